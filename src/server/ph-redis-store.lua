-- SPDX-License-Identifier: GPL-3.0-or-later
--
-- Every operation of PhStore as one script, so that it is atomic across
-- the servers sharing the Redis (ph-redis-store.c runs it with EVALSHA).
--
-- Keys, under the prefix PREFIX (ARGV[2]):
--   PREFIX mailbox:N   hash: tag, expires (ms, Redis's clock), n (messages),
--                      bytes, and per side S (1, 2): sS (the secret's hash),
--                      kS (the request key's hash until the secret is used),
--                      lS (left), tcS, twS (TURN requests and window end)
--   PREFIX messages:N  list: "SIDE LEN PHASEBODY" each, index i + 1 at i
--   PREFIX open        sorted set: the open nameplates, scored by number
--   PREFIX expiry      sorted set: the open nameplates, scored by when
--                      their mailbox ends (its keys' PEXPIREAT)
-- and for meeting points (a 64-hex-digit ID each):
--   PREFIX point:ID:m  sorted set: its messages, scored by index, each
--                      "INDEX EXPIRES SIDE LEN PHASEBODY"
--   PREFIX point:ID:c  sorted set: its stored copies, "INDEX EXPIRES SIDE BODY"
--   PREFIX point-expiry  sorted set by EXPIRES (ms): "m ID INDEX 0" for a
--                      message, "c ID INDEX BYTES" for a copy
--   PREFIX point-index the last index given, to messages and copies alike
--   PREFIX copies      hash: n, bytes: all points' stored copies
-- The mailbox's two keys expire by themselves (PEXPIREAT): a mailbox
-- ends once, in Redis, whichever server is running. A nameplate is taken
-- while its mailbox key exists: the sweep at the start of every script
-- drops from the sorted sets what ended, and says so, so a number whose
-- mailbox expired is free by construction, even if no server noticed.
--
-- ARGV: op, prefix, channel, instance, nameplate, secret hash, seat secret
-- hash, request key hash, tag (If-Match), new tag, phase, body, has body
-- ("1" or "0"), after, quota, window (s), max mailboxes, max messages,
-- max bytes, lifetime (s), then for meeting points: point id, side, index,
-- a copy's lifetime (s), its point's max count and max bytes, the max
-- bytes of all copies, and (meet-fetch) "ID", "SIDE", "AFTER" per point.
-- Hashes and tags are "" when absent.
--
-- Reply: { status, closed, nameplate, side, created, tag, expires_in (ms),
-- index, turn_granted, retry_after (ms), n_open (count-open's only, else
-- 0), messages, next_due (ms until the next mailbox or point item ends,
-- -1 for none), n_copies, copy_bytes }. messages: "SIDE LEN PHASEBODY" for a fetch; for a
-- meet-fetch { ID, N_STORED, { "INDEX SIDE LEN PHASEBODY"… } } per point;
-- for fetch-copies "INDEX SIDE EXPIRES_IN(ms) BODY". status 0 is success, else
-- a PhStoreError + 1, or 100 for a join whose mailbox has no message yet.

local op = ARGV[1]
local prefix = ARGV[2]
local channel = ARGV[3]
local instance = ARGV[4]
local nameplate = tonumber(ARGV[5])
local secret = ARGV[6]
local seat_secret = ARGV[7]
local request_key = ARGV[8]
local if_match = ARGV[9]
local new_tag = ARGV[10]
local phase = ARGV[11]
local body = ARGV[12]
local has_body = ARGV[13] == '1'
local after = ARGV[14]
local quota = tonumber(ARGV[15])
local window_ms = tonumber(ARGV[16]) * 1000
local max_mailboxes = tonumber(ARGV[17])
local max_messages = tonumber(ARGV[18])
local max_bytes = tonumber(ARGV[19])
local lifetime_ms = tonumber(ARGV[20]) * 1000
local point_id = ARGV[21]
local point_side = tonumber(ARGV[22])
local point_index = ARGV[23]
local copy_lifetime_ms = tonumber(ARGV[24]) * 1000
local copy_max_count = tonumber(ARGV[25])
local copy_max_bytes = tonumber(ARGV[26])
local copy_max_total = tonumber(ARGV[27])
local FIRST_CURSOR_ARG = 28

-- PhStoreError + 1
local NO_SUCH_MAILBOX = 1
local NO_FREE_MAILBOX = 2
local THIRD_SIDE = 3
local MAILBOX_LIMIT = 4
local NAMEPLATE_UNAVAILABLE = 5
local UNAUTHORIZED = 6
local OTHER_FIRST_MESSAGE = 7
local REPLACED = 8
local POINT_LIMIT = 9
local STORED_LIMIT = 10
local NO_SUCH_COPY = 11
local STORED_FULL = 12
local NO_MESSAGE_YET = 100

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local open_key = prefix .. 'open'
local expiry_key = prefix .. 'expiry'
local point_expiry_key = prefix .. 'point-expiry'
local point_index_key = prefix .. 'point-index'
local copies_key = prefix .. 'copies'

local reply = { 0, {}, nameplate, 0, 0, '', 0, 0, 0, 0, 0, {}, -1, 0, 0 }
local closed = reply[2]

local function mailbox_key(n)
  return prefix .. 'mailbox:' .. n
end

local function messages_key(n)
  return prefix .. 'messages:' .. n
end

-- The request's mailbox's keys, made once: a number in a key would be
-- formatted again at every use.
local box_key, list_key, nameplate_text

local function set_nameplate(n)
  nameplate_text = tostring(n)
  nameplate = tonumber(n)
  box_key = mailbox_key(nameplate_text)
  list_key = messages_key(nameplate_text)
end

set_nameplate(ARGV[5])

-- @n as a string.
local function tell_closed(n)
  table.insert(closed, tonumber(n))
  redis.call('PUBLISH', channel, instance .. ' c ' .. n)
end

local function close_mailbox()
  redis.call('DEL', box_key, list_key)
  redis.call('ZREM', open_key, nameplate_text)
  redis.call('ZREM', expiry_key, nameplate_text)
  tell_closed(nameplate_text)
end

-- What ended frees its number. One whose key Redis has not yet let go of
-- (its clock in a script stops at the script's start) waits for the next.
local function sweep()
  local due = redis.call('ZRANGEBYSCORE', expiry_key, '-inf', now, 'LIMIT', 0, 100)
  for _, n in ipairs(due) do
    if redis.call('EXISTS', mailbox_key(n)) == 0 then
      redis.call('DEL', messages_key(n))
      redis.call('ZREM', open_key, n)
      redis.call('ZREM', expiry_key, n)
      tell_closed(n)
    end
  end
end

-- The request's mailbox ends at @expires (a number, formatted once). Its
-- list may not exist yet: PEXPIREAT leaves a missing key alone.
local function set_expiry(expires)
  local text = tostring(expires)
  redis.call('HSET', box_key, 'expires', text)
  redis.call('PEXPIREAT', box_key, text)
  redis.call('PEXPIREAT', list_key, text)
  redis.call('ZADD', expiry_key, text, nameplate_text)
end

-- The mailbox's fields, or nil with the status that says why.
local function find_mailbox()
  local fields = redis.call('HGETALL', box_key)
  local box = {}
  if #fields == 0 then
    return nil, NO_SUCH_MAILBOX
  end
  for i = 1, #fields, 2 do
    box[fields[i]] = fields[i + 1]
  end
  if if_match ~= '' and if_match ~= box.tag then
    return nil, REPLACED
  end
  return box, 0
end

-- Secrets are compared as SHA-256 hashes: how long a comparison takes
-- tells nothing of a secret.
local function find_side()
  local box, status = find_mailbox()
  local side = 0
  if box == nil then
    return nil, 0, status
  end
  if secret ~= '' then
    if box.s1 ~= nil and box.s1 == secret then
      side = 1
    elseif box.s2 ~= nil and box.s2 == secret then
      side = 2
    end
  end
  if side == 0 then
    return nil, 0, UNAUTHORIZED
  end
  -- The client has its secret: a repeated claim or join is no longer it,
  -- unless this is the post that came with the join (its own key).
  if box['k' .. side] ~= nil and box['k' .. side] ~= request_key then
    redis.call('HDEL', box_key, 'k' .. side)
  end
  reply[4] = side
  reply[6] = box.tag
  return box, side, 0
end

local function is_repeat(box, side)
  local key = box['k' .. side]
  return box['s' .. side] ~= nil and key ~= nil and request_key ~= '' and key == request_key
end

local function take_seat(side, keep_key)
  if keep_key and request_key ~= '' then
    redis.call('HSET', box_key, 's' .. side, seat_secret, 'k' .. side, request_key)
  else
    redis.call('HSET', box_key, 's' .. side, seat_secret)
    redis.call('HDEL', box_key, 'k' .. side)
  end
end

local function fill_seat(box, side, created)
  reply[3] = nameplate
  reply[4] = side
  reply[5] = created and 1 or 0
  reply[6] = box.tag
  reply[7] = tonumber(box.expires) - now
end

local function is_paired(box)
  return box.s2 ~= nil
end

-- Whether a post or a poll renews the mailbox: only a paired one does.
-- Polls come back every few seconds and posts come in bursts: a renewal
-- is written only when it moves the end by 1% of the lifetime or more.
local function is_renewed(box)
  return is_paired(box) and now + lifetime_ms - tonumber(box.expires) >= lifetime_ms / 100
end

-- A new hash, in one write; no list yet.
local function open_mailbox(keep_key)
  local expires = tostring(now + lifetime_ms)
  local box = { tag = new_tag, expires = expires, s1 = seat_secret }
  if keep_key and request_key ~= '' then
    redis.call('HSET', box_key, 'tag', new_tag, 'n', 0, 'bytes', 0, 'expires', expires, 's1',
      seat_secret, 'k1', request_key)
  else
    redis.call('HSET', box_key, 'tag', new_tag, 'n', 0, 'bytes', 0, 'expires', expires, 's1',
      seat_secret)
  end
  redis.call('PEXPIREAT', box_key, expires)
  redis.call('ZADD', expiry_key, expires, nameplate_text)
  redis.call('ZADD', open_key, nameplate_text, nameplate_text)
  fill_seat(box, 1, true)
end

-- The lowest number not open: open holds distinct numbers from 1, so the
-- member at rank r is r + 1 exactly up to the first gap.
local function lowest_free()
  local lo = 0
  local hi = redis.call('ZCARD', open_key)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if tonumber(redis.call('ZRANGE', open_key, mid, mid)[1]) == mid + 1 then
      lo = mid + 1
    else
      hi = mid
    end
  end
  return lo + 1
end

local function has_room()
  return redis.call('ZCARD', open_key) < max_mailboxes
end

local function allocate()
  if not has_room() then
    return NO_FREE_MAILBOX
  end
  set_nameplate(lowest_free())
  -- Allocation is never repeated: it keeps no request key.
  open_mailbox(false)
  return 0
end

local function claim()
  local box, status
  if redis.call('EXISTS', box_key) == 1 then
    box, status = find_mailbox()
    if box == nil then
      return status
    end
    if not is_repeat(box, 1) then
      return NAMEPLATE_UNAVAILABLE
    end
    take_seat(1, true)
    fill_seat(box, 1, false)
    return 0
  end
  if nameplate < 1 or nameplate > max_mailboxes then
    return NAMEPLATE_UNAVAILABLE
  end
  if not has_room() then
    return NO_FREE_MAILBOX
  end
  open_mailbox(true)
  return 0
end

local function decode_message(text)
  local first = string.find(text, ' ', 1, true)
  local second = string.find(text, ' ', first + 1, true)
  local length = tonumber(string.sub(text, first + 1, second - 1))
  return tonumber(string.sub(text, 1, first - 1)), string.sub(text, second + 1, second + length),
    string.sub(text, second + length + 1)
end

-- The first to join holds side 2 from then on; anyone after it, even once
-- it left, finds the mailbox full.
local function join()
  local box, status = find_mailbox()
  if box == nil then
    return status
  end
  if is_repeat(box, 2) then
    take_seat(2, true)
    fill_seat(box, 2, false)
    return 0
  end
  if box.s2 ~= nil then
    return THIRD_SIDE
  end
  if has_body then
    local first = redis.call('LINDEX', list_key, 0)
    if not first then
      return NO_MESSAGE_YET
    end
    local side, first_phase, first_body = decode_message(first)
    if side ~= 1 or first_phase ~= phase or first_body ~= body then
      return OTHER_FIRST_MESSAGE
    end
  end
  take_seat(2, true)
  -- Paired from now on: the chat keeps it while it uses it.
  box.expires = tostring(now + lifetime_ms)
  set_expiry(now + lifetime_ms)
  fill_seat(box, 2, true)
  return 0
end

local function add_message()
  local box, side, status = find_side()
  local n, bytes
  if box == nil then
    return status
  end
  n = tonumber(box.n)
  bytes = tonumber(box.bytes)
  if n >= max_messages or #body > max_bytes - math.min(bytes, max_bytes) then
    return MAILBOX_LIMIT
  end
  local length = redis.call('RPUSH', list_key, side .. ' ' .. #phase .. ' ' .. phase .. body)
  redis.call('HSET', box_key, 'n', n + 1, 'bytes', bytes + #body)
  -- A paired mailbox lives on while it is used, renewed as by a fetch;
  -- otherwise a list just made ends with its mailbox.
  if is_renewed(box) then
    set_expiry(now + lifetime_ms)
  elseif length == 1 then
    redis.call('PEXPIREAT', list_key, box.expires)
  end
  reply[8] = n + 1
  redis.call('PUBLISH', channel, instance .. ' a ' .. nameplate_text .. ' ' .. (n + 1))
  return 0
end

local function fetch()
  local box, side, status = find_side()
  if box == nil then
    return status
  end
  if is_renewed(box) then
    set_expiry(now + lifetime_ms)
  end
  if tonumber(after) < tonumber(box.n) then
    reply[12] = redis.call('LRANGE', list_key, after, -1)
  end
  return 0
end

local function leave()
  local box, side, status = find_side()
  if box == nil then
    return status
  end
  box['l' .. side] = '1'
  for other = 1, 2 do
    if box['s' .. other] ~= nil and box['l' .. other] == nil then
      redis.call('HSET', box_key, 'l' .. side, 1)
      return 0
    end
  end
  close_mailbox()
  return 0
end

local function count_turn()
  local box, side, status = find_side()
  local count, window_end
  if box == nil then
    return status
  end
  count = tonumber(box['tc' .. side] or '0')
  window_end = tonumber(box['tw' .. side] or '0')
  if now >= window_end then
    count = 0
    window_end = now + window_ms
  end
  if count < quota then
    reply[9] = 1
    redis.call('HSET', box_key, 'tc' .. side, count + 1, 'tw' .. side, window_end)
  else
    reply[10] = window_end - now
  end
  return 0
end

local function authenticate()
  local box, side, status = find_side()
  if box == nil then
    return status
  end
  return 0
end

local point_ops = {
  sweep = true,
  ['meet-add-message'] = true,
  ['meet-fetch'] = true,
  ['store-copy'] = true,
  ['fetch-copies'] = true,
  ['delete-copy'] = true,
  ['count-copies'] = true,
}

local ops = {
  allocate = allocate,
  claim = claim,
  join = join,
  authenticate = authenticate,
  ['add-message'] = add_message,
  fetch = fetch,
  leave = leave,
  ['count-turn'] = count_turn,
  ['count-open'] = function() return 0 end,
}
local sweep_points

-- Made only for the operations that use them: every function a script
-- defines is made again at every run.
if point_ops[op] then
  -- Meeting points

  local function point_key(id, kind)
    return prefix .. 'point:' .. id .. ':' .. kind
  end

  -- "INDEX EXPIRES SIDE REST": index, expires, side, rest.
  local function parse_item(member)
    local first = string.find(member, ' ', 1, true)
    local second = string.find(member, ' ', first + 1, true)
    local third = string.find(member, ' ', second + 1, true)
    return tonumber(string.sub(member, 1, first - 1)),
      tonumber(string.sub(member, first + 1, second - 1)),
      tonumber(string.sub(member, second + 1, third - 1)), string.sub(member, third + 1)
  end

  -- A message's REST is "LEN PHASEBODY": the body's length.
  local function body_length(rest)
    local space = string.find(rest, ' ', 1, true)
    return #rest - space - tonumber(string.sub(rest, 1, space - 1))
  end

  -- What ended leaves its point and the copies' totals. Reads skip what
  -- ended and is still there (more than this takes at once).
  sweep_points = function()
    local due = redis.call('ZRANGEBYSCORE', point_expiry_key, '-inf', now, 'LIMIT', 0, 100)
    for _, entry in ipairs(due) do
      local kind, id, index, bytes = string.match(entry, '^(%a) (%x+) (%d+) (%d+)$')
      redis.call('ZREMRANGEBYSCORE', point_key(id, kind), index, index)
      if kind == 'c' then
        redis.call('HINCRBY', copies_key, 'n', -1)
        redis.call('HINCRBY', copies_key, 'bytes', -tonumber(bytes))
      end
      redis.call('ZREM', point_expiry_key, entry)
    end
  end

  -- How many live items @key holds, and the bytes of their bodies.
  local function point_usage(key, is_copy)
    local count, bytes = 0, 0
    for _, member in ipairs(redis.call('ZRANGE', key, 0, -1)) do
      local _, expires, _, rest = parse_item(member)
      if expires > now then
        count = count + 1
        bytes = bytes + (is_copy and #rest or body_length(rest))
      end
    end
    return count, bytes
  end

  local function add_point_item(kind, expires, text, bytes)
    local index = redis.call('INCR', point_index_key)
    redis.call('ZADD', point_key(point_id, kind), index, index .. ' ' .. expires .. ' ' .. text)
    redis.call('ZADD', point_expiry_key, expires,
      kind .. ' ' .. point_id .. ' ' .. index .. ' ' .. bytes)
    redis.call('PUBLISH', channel, instance .. ' p ' .. point_id .. ' ' .. index .. ' ' .. point_side)
    reply[8] = index
  end

  local function meet_add_message()
    local count, bytes = point_usage(point_key(point_id, 'm'), false)
    if count >= max_messages or #body > max_bytes - math.min(bytes, max_bytes) then
      return POINT_LIMIT
    end
    add_point_item('m', now + lifetime_ms, point_side .. ' ' .. #phase .. ' ' .. phase .. body, 0)
    return 0
  end

  -- Each point's messages from the other side above its cursor, and how
  -- many copies the other side stored there above it.
  local function meet_fetch()
    local points = {}
    for i = FIRST_CURSOR_ARG, #ARGV, 3 do
      local id, side, after = ARGV[i], tonumber(ARGV[i + 1]), '(' .. ARGV[i + 2]
      local messages, n_stored = {}, 0
      for _, member in ipairs(redis.call('ZRANGEBYSCORE', point_key(id, 'm'), after, '+inf')) do
        local index, expires, from, rest = parse_item(member)
        if expires > now and from ~= side then
          table.insert(messages, index .. ' ' .. from .. ' ' .. rest)
        end
      end
      for _, member in ipairs(redis.call('ZRANGEBYSCORE', point_key(id, 'c'), after, '+inf')) do
        local _, expires, from = parse_item(member)
        if expires > now and from ~= side then
          n_stored = n_stored + 1
        end
      end
      table.insert(points, { id, n_stored, messages })
    end
    reply[12] = points
    return 0
  end

  local function store_copy()
    local count, bytes = point_usage(point_key(point_id, 'c'), true)
    local total = tonumber(redis.call('HGET', copies_key, 'bytes') or '0')
    local size = #body
    if count >= copy_max_count or size > copy_max_bytes or bytes > copy_max_bytes - size then
      return STORED_LIMIT
    end
    if size > copy_max_total or total > copy_max_total - size then
      return STORED_FULL
    end
    add_point_item('c', now + copy_lifetime_ms, point_side .. ' ' .. body, size)
    redis.call('HINCRBY', copies_key, 'n', 1)
    redis.call('HINCRBY', copies_key, 'bytes', size)
    reply[7] = copy_lifetime_ms
    return 0
  end

  local function fetch_copies()
    local copies = {}
    for _, member in ipairs(redis.call('ZRANGEBYSCORE', point_key(point_id, 'c'), '(' .. after,
      '+inf')) do
      local index, expires, side, rest = parse_item(member)
      if expires > now then
        table.insert(copies, index .. ' ' .. side .. ' ' .. (expires - now) .. ' ' .. rest)
      end
    end
    reply[12] = copies
    return 0
  end

  local function delete_copy()
    local key = point_key(point_id, 'c')
    local found = redis.call('ZRANGEBYSCORE', key, point_index, point_index)
    if #found == 0 then
      return NO_SUCH_COPY
    end
    local index, expires, _, rest = parse_item(found[1])
    if expires <= now then
      return NO_SUCH_COPY
    end
    redis.call('ZREM', key, found[1])
    redis.call('ZREM', point_expiry_key, 'c ' .. point_id .. ' ' .. index .. ' ' .. #rest)
    redis.call('HINCRBY', copies_key, 'n', -1)
    redis.call('HINCRBY', copies_key, 'bytes', -#rest)
    return 0
  end

  local function count_copies()
    local totals = redis.call('HMGET', copies_key, 'n', 'bytes')
    reply[14] = tonumber(totals[1] or '0')
    reply[15] = tonumber(totals[2] or '0')
    return 0
  end

  ops['sweep'] = function() return 0 end
  ops['meet-add-message'] = meet_add_message
  ops['meet-fetch'] = meet_fetch
  ops['store-copy'] = store_copy
  ops['fetch-copies'] = fetch_copies
  ops['delete-copy'] = delete_copy
  ops['count-copies'] = count_copies
end

sweep()
-- Mailbox operations leave the points to the sweep that every server
-- runs at least every second: a round trip costs Redis less.
if point_ops[op] then
  sweep_points()
end
reply[1] = ops[op]()
if reply[1] == 0 then
  reply[3] = nameplate
end
-- Only counting wants the count.
if op == 'count-open' then
  reply[11] = redis.call('ZCARD', open_key)
end

for _, key in ipairs(point_ops[op] and { expiry_key, point_expiry_key } or { expiry_key }) do
  local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if #head > 0 then
    local due = math.max(tonumber(head[2]) - now, 0)
    if reply[13] < 0 or due < reply[13] then
      reply[13] = due
    end
  end
end
return reply
