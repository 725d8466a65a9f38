#!/usr/bin/env python3
# Writes the seed corpora under fuzz/corpus/: a few valid and borderline
# inputs per target. Run it again after changing a wire format; the files
# are checked in so a fuzz run starts from them without this script.
import hashlib
import json
import os
import struct

top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(top, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(top, target, name), "wb") as f:
        f.write(data)


# Session descriptions
FP = ("3A:9C:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:01:23:45:67:89:AB:"
      "CD:EF:10:32:54:76:98:F0")
lines = [
    "v=0",
    "o=- 4611731400430051336 1 IN IP4 0.0.0.0",
    "s=pinhole",
    "t=0 0",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 " + FP,
    "a=setup:actpass",
    "a=x-pinhole-name:Alice",
    "m=application 9 UDP/TLS/PINHOLE text",
    "c=IN IP4 0.0.0.0",
    "a=mid:0",
    "a=ice-ufrag:6Dh2",
    "a=ice-pwd:Zp3QxYk8mN2bV7cL1rT9wE4s",
    "a=x-pinhole-link-isn:4294967295",
    "a=candidate:1 1 UDP 2015363327 10.1.0.2 39989 typ host",
    "a=candidate:3 1 UDP 1679819007 203.0.113.1 39989 typ srflx raddr 10.1.0.2 rport 39989",
    "a=end-of-candidates",
]
write("session-description", "full-crlf", "\r\n".join(lines) + "\r\n")
write("session-description", "full-lf", "\n".join(lines) + "\n")
more = lines[:13] + [
    "a=x-pinhole-link-isn:0",
    "a=candidate:2 1 TCP 1015363327 fd00::2 9 typ host tcptype active",
    "a=candidate:4 1 UDP 16777215 198.51.100.7 3478 typ relay raddr 203.0.113.1 rport 39989",
    "a=candidate:5 1 TCP 1518280447 2001:db8::5 443 typ prflx raddr fd00::2 rport 9 tcptype so",
    "a=candidate:a+/Z 1 UDP 4294967295 10.1.0.2 1 typ host generation 0 network-id 1",
]
more[1] = "o=- 1 2 IN IP6 ::"
more[6] = "a=setup:passive"
more[7] = "a=x-pinhole-name:Zo\u00eb \U0001F642"
write("session-description", "ipv6-tcp-relay", "\r\n".join(more) + "\r\n")
# An older peer's: no link ISN either.
write("session-description", "no-candidates",
      "\r\n".join(lines[:7] + ["a=x-future:whatever", "a=recvonly"] + lines[8:13]) + "\r\n")

# Frames: bare JSON for ph_frame_parse, and streams for the decoder (first
# byte: chunk size - 1, then length-prefixed frames).
frames = [
    {"type": "hello", "version": 1, "name": "Bob", "features": ["typing"]},
    {"type": "msg", "id": "a1", "time": 1700000000123, "text": "hi \U0001F642"},
    {"type": "ack", "id": "a1"},
    {"type": "typing", "active": True},
    {"type": "bye", "reason": "done"},
    {"type": "ping"},
    {"type": "probe", "id": 3, "ufrag": "q7Rt", "pwd": "Zp3QxYk8mN2bV7cL1rT9wE",
     "candidates": ["candidate:1 1 UDP 2015363327 10.1.0.2 39989 typ host",
                    "candidate:3 1 UDP 1679819007 203.0.113.1 40001 typ srflx raddr 10.1.0.2 rport 39989"]},
    {"type": "contact-offer", "key": "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=",
     "share": "Nm4tbWFkZS11cC1zaGFyZS1vZi10aGUtcGFpci1zZWM=", "name": "Bob",
     "signature": "5tZ2ZtBkV4xNvtQ3nN1uT8wS0kqPzJmWQ0bJv1b5c2uYx8lH3o9Hc0tJX1lE9t6sUQm0Zb1d0cY8p2n4k7mYBw=="},
    {"type": "future-thing", "x": [1, {"y": None}]},
]
stream = b""
for frame in frames:
    text = json.dumps(frame, ensure_ascii=False, separators=(",", ":")).encode()
    write("frame", "json-" + frame["type"], text)
    stream += struct.pack(">I", len(text)) + text
# A contact offer (its signature is checked later, by ph-contact-exchange).
write("frame", "json-contact-offer", json.dumps(
    {"type": "contact-offer", "key": "A" * 43 + "=", "share": "AQEB" * 10 + "AQE=",
     "name": "Bob", "signature": "A" * 86 + "=="}, separators=(",", ":")))
write("frame", "stream-whole", b"\xff" + stream)
write("frame", "stream-bytewise", b"\x00" + stream)
write("frame", "stream-split-7", b"\x06" + stream)
write("frame", "stream-zero-length", b"\x10" + stream[:20] + b"\x00\x00\x00\x00")
write("frame", "stream-too-long", b"\x10\x00\x08\x00\x01{}")

# Nesting deep enough (100 000) to overflow the stack in json-glib 1.6,
# behind what json-glib reads otherwise than strict JSON: a single-quoted
# string that holds a quote, and "\u1" that takes the quote after it.
DEEP = 100000
deep_quote = b'{"type":"msg","x":\'"\',"a":' + b"[" * DEEP
deep_escape = b'{"type":"msg","x":"\\u1"","a":' + b"[" * DEEP
write("frame", "json-deep-quote", deep_quote)
write("frame", "stream-deep-escape",
      b"\xff" + struct.pack(">I", len(deep_escape)) + deep_escape
      + struct.pack(">I", len(b'{"type":"ping"}')) + b'{"type":"ping"}')

# Sealer: first byte % 3 picks open (0), PAKE (1) or a sealed sequence (2).
write("sealer", "open-short", b"\x00" + bytes(47))
write("sealer", "open-noise", b"\x00" + bytes(range(100)))
# The ristretto255 base point: a valid group element as Bob's message.
base = bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76")
write("sealer", "pake-base-point", b"\x01\x20" + base + bytes(32))
write("sealer", "pake-short", b"\x01\x1f" + base[:31])
write("sealer", "pake-identity", b"\x01\x20" + bytes(32) + bytes(32))
# flags: bits 0-1 seal phase, 2-3 open phase, 4 tamper, 5 replay.
seq = (b"\x00\x05hello" + b"\x0a\x03abc" + b"\x20\x00" + b"\x1a\x04desc"
       + b"\x05\x00" + b"\x3f\x02hi" + b"\x0f\x01x")
write("sealer", "sequence", b"\x02" + seq)

# Codes
for i, code in enumerate(["42-orbit-velvet", " 42 Orbit  VELVET \n", "999999-acorn-zipper",
                          "42-orbt-velvet", "42-velvet-orbit", "042-orbit-velvet",
                          "1-acorn-acorn"]):
    write("code", "code-%d" % i, code)


# Rendezvous requests, as raw HTTP/1.1.
def request(method, path, body=None, headers=()):
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method, path)
    for header in headers:
        head += header + "\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    return (head + "\r\n").encode() + (body.encode() if body else b"")


# A side's secret has the shape of one, but each run of the server draws
# its own: these reach the handlers and are refused (401) there.
secret_a = "0123456789abcdef" * 4
bearer_a = "Authorization: Bearer " + secret_a
post_a = json.dumps({"phase": "pake", "body": "AAECAw=="})
post_b = json.dumps({"phase": "desc", "body": ""})
write("rendezvous-request", "allocate", request("POST", "/v1/mailboxes", ""))
write("rendezvous-request", "health", request("GET", "/v1/health"))
write("rendezvous-request", "metrics", request("GET", "/metrics"))
write("rendezvous-request", "turn", request("GET", "/v1/turn"))
write("rendezvous-request", "wrong-method", request("PUT", "/v1/turn"))
write("rendezvous-request", "not-found", request("GET", "/v1/nothing%20here?x=1"))
write("rendezvous-request", "conversation",
      request("POST", "/v1/mailboxes", "")
      + request("POST", "/v1/mailboxes/1/join", "", ["Idempotency-Key: k1"])
      + request("POST", "/v1/mailboxes/1/messages", post_a, [bearer_a])
      + request("POST", "/v1/mailboxes/1/messages", post_b, ["Authorization: Bearer x"])
      + request("GET", "/v1/mailboxes/1/messages?after=1&wait=0", None, [bearer_a])
      + request("GET", "/v1/mailboxes/1/turn", None, [bearer_a])
      + request("DELETE", "/v1/mailboxes/1", None, [bearer_a])
      + request("DELETE", "/v1/mailboxes/1"))
write("rendezvous-request", "join-again",
      request("POST", "/v1/mailboxes", "")
      + request("POST", "/v1/mailboxes/1/join", post_a, ["Idempotency-Key: k"])
      + request("POST", "/v1/mailboxes/1/join", "", ["Idempotency-Key: k"])
      + request("POST", "/v1/mailboxes/1/join", '{"phase":"pake"}')
      + request("POST", "/v1/mailboxes/1/join", None, ["Idempotency-Key: " + "k" * 200]))
write("rendezvous-request", "long-poll",
      request("POST", "/v1/mailboxes", "")
      + request("GET", "/v1/mailboxes/1/messages?after=0&wait=1", None, [bearer_a]))
write("rendezvous-request", "post-unknown",
      request("POST", "/v1/mailboxes/7/messages", post_a, [bearer_a]))
write("rendezvous-request", "post-bad-json",
      request("POST", "/v1/mailboxes", "")
      + request("POST", "/v1/mailboxes/1/messages", '{"phase":[],"body":"=="}',
                ["authorization: bearer " + secret_a]))
write("rendezvous-request", "chunked",
      b"POST /v1/mailboxes/1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      b"5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n")
write("rendezvous-request", "too-large",
      request("POST", "/v1/mailboxes/1/messages", None, ["Content-Length: 999999"]) + b"{}")
write("rendezvous-request", "http10", b"GET /v1/health HTTP/1.0\r\n\r\n")
write("rendezvous-request", "claim-and-if-match",
      request("PUT", "/v1/mailboxes/3", None, ["Idempotency-Key: claim"])
      + request("PUT", "/v1/mailboxes/3", None, ["Idempotency-Key: claim"])
      + request("POST", "/v1/mailboxes/3/messages", post_a,
                ['If-Match: "0123456789abcdef"', bearer_a])
      + request("GET", "/v1/mailboxes/3/messages?after=0&wait=0", None, ["If-Match: *"])
      + request("PUT", "/v1/mailboxes/3"))


# STUN answers: the 12-byte transaction id the NAT check waits for, then
# the datagram. The coturn-* seeds are real answers from coturn 4.6.1
# (`turnserver --stun-only` on 127.0.0.1 and 127.0.0.2, ports 47478/47479,
# and on ::1): to a plain request, to CHANGE-REQUEST, from the alternate
# address, an error answer and one to a request without the magic cookie.
# tests/test-stun-binding.c checks the same bytes.
def stun_answer(name, hex_id, hex_datagram):
    write("stun-answer", name, bytes.fromhex(hex_id + hex_datagram))


SOFTWARE = "80220014436f7475726e2d342e362e312027476f72737427"
stun_answer("coturn-plain", "5043c134935453d5f5d0b6d4",
            "010100482112a4425043c134935453d5f5d0b6d4"
            "0020000800019a915e12a443000100080001bb837f000001"
            "802b00080001b9767f000001802c00080001b9777f000002" + SOFTWARE)
stun_answer("coturn-change-ip-port", "516492d28ef0efabc4b5f59e",
            "010100482112a442516492d28ef0efabc4b5f59e"
            "0020000800019a915e12a443000100080001bb837f000001"
            "802b00080001b9777f000002802c00080001b9777f000002" + SOFTWARE)
stun_answer("coturn-alternate", "53e2e31979715b7327af362f",
            "010100482112a44253e2e31979715b7327af362f"
            "0020000800019a915e12a443000100080001bb837f000001"
            "802b00080001b9767f000002802c00080001b9777f000002" + SOFTWARE)
stun_answer("coturn-unknown-attribute", "544bad1df54f67539784519a",
            "0111003c2112a442544bad1df54f67539784519a"
            "0009001800000414556e6b6e6f776e20417474726962757465000000"
            "000a00027f000000" + SOFTWARE)
stun_answer("coturn-ipv6", "60d8baf81955c7fd7b9247eb",
            "010100602112a44260d8baf81955c7fd7b9247eb"
            "002000140002b1d32112a44260d8baf81955c7fd7b9247ea"
            "00010014000290c100000000000000000000000000000001"
            "802b00140002b98000000000000000000000000000000001" + SOFTWARE)
stun_answer("coturn-rfc3489", "51788656285857613a2e98ed",
            "010100400102030451788656285857613a2e98ed"
            "000100080001bb837f000001000400080001b9767f000001"
            "000500080001b9777f000002"
            "80220018436f7475726e2d342e362e312027476f7273742700000000")
# Made here: the RFC 3489 attributes behind a cookie, and a signed and
# fingerprinted answer (neither is checked, both must be stepped over).
stun_answer("old-attributes", "0102030405060708090a0b0c",
            "010100242112a4420102030405060708090a0b0c"
            "000100080001138cc6336408000500080001d97dcb00710b"
            "000400080001d97ecb00710a")
stun_answer("integrity-fingerprint", "0102030405060708090a0b0c",
            "0101002c2112a4420102030405060708090a0b0c"
            "0020000800013f9ee7217442"
            "00080014" + "00" * 20 + "8028000412345678")
# Rendezvous answers: byte 0 picks the parser (0 allocate, 1 claim of
# nameplate 42, 2 post, 3 fetch, 4 turn, 5 refusal, 6 join of nameplate
# 42), byte 1 is its parameter (a fetch's "after"; for a refusal bits 0-2
# and 5 the status, 3 PUT, 4 about mailbox 42, 6-7 the Retry-After), then
# the body as pinhole-rendezvous wrote it.
def answer(name, parser, parameter, body):
    write("rendezvous-answer", name, bytes([parser, parameter]) + body.encode())


def refusal(name, status, body, put=False, mailbox=True, wait=0):
    statuses = [400, 404, 409, 412, 413, 429, 500, 503,
                401, 403, 405, 410, 422, 502, 504, 302]
    index = statuses.index(status)
    parameter = ((index & 7) | ((index & 8) << 2) | (8 if put else 0) | (16 if mailbox else 0)
                 | (wait << 6))
    answer("refusal-" + name, 5, parameter, body)


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def seat(nameplate, side, secret=secret_a):
    return compact({"nameplate": nameplate, "expires_in": 600, "side": side, "secret": secret})


messages = [{"index": 1, "side": 1, "phase": "pake", "body": "AAECAw=="},
            {"index": 2, "side": 2, "phase": "desc", "body": ""}]
answer("allocate", 0, 0, seat("1", 1))
answer("allocate-bad-nameplate", 0, 0, seat("042", 1))
answer("allocate-no-secret", 0, 0, compact({"nameplate": "1", "expires_in": 600}))
answer("allocate-upper-case-secret", 0, 0, seat("1", 1, secret_a.upper()))
answer("claim", 1, 0, seat("42", 1))
answer("claim-as-joiner", 1, 0, seat("42", 2))
answer("join", 6, 0, seat("42", 2))
answer("join-other-nameplate", 6, 0, seat("43", 2))
answer("join-short-secret", 6, 0, seat("42", 2, "abc"))
answer("post", 2, 0, compact({"index": 1}))
answer("fetch", 3, 0, compact({"messages": messages}))
answer("fetch-empty", 3, 2, compact({"messages": []}))
answer("fetch-out-of-order", 3, 1, compact({"messages": messages}))
answer("fetch-old-side-ids", 3, 0, compact({"messages": [
    {"index": 1, "side": "0123456789abcdef", "phase": "pake", "body": "AAECAw=="}]}))
answer("fetch-third-side", 3, 0, compact({"messages": [
    {"index": 1, "side": 3, "phase": "pake", "body": ""}]}))
answer("turn", 4, 0, compact({
    "stun": ["stun:192.0.2.1:3478"],
    "turn": ["turn:192.0.2.1:3478", "turns:192.0.2.1:5349?transport=tcp"],
    "username": "1796276825:d3a0bb15", "credential": "Hi+pFyNxovbZm33D4CQ3VaZMplI=",
    "ttl": 3600}))
answer("turn-stun-only", 4, 0, compact({"stun": ["stun:192.0.2.1:3478"]}))
answer("nested", 4, 0, "[" * 40 + "]" * 40)
point_a = "a" * 64
point_b = "b" * 64
answer("meet-wait", 7, 0, compact({"points": [
    {"id": point_b, "stored": 1, "messages": messages}]}))
answer("meet-wait-empty", 7, 0, compact({"points": []}))
answer("meet-wait-not-asked", 7, 0, compact({"points": [
    {"id": "c" * 64, "stored": 1, "messages": []}]}))
answer("meet-wait-twice", 7, 0, compact({"points": [
    {"id": point_a, "stored": 1, "messages": []},
    {"id": point_a, "stored": 1, "messages": []}]}))
answer("stored", 8, 0, compact({"index": 4, "expires_in": 604800}))
answer("copies", 9, 0, compact({"stored": [
    {"index": 3, "side": 2, "body": "AAE=", "expires_in": 600},
    {"index": 9, "side": 1, "body": "", "expires_in": 1}]}))
answer("copies-out-of-order", 9, 3, compact({"stored": [
    {"index": 3, "side": 2, "body": "AAE=", "expires_in": 600}]}))
answer("deep-escape", 4, 0, '{"stun":"\\u1"","stun":' + "[" * DEEP)
refusal("mailbox-full", 409, compact(
    {"error": "mailbox-full",
     "message": "Mailbox 1 already has two sides; a code works for two people only."}))
refusal("malformed", 400, compact(
    {"error": "malformed", "message": "\"side\" must be a string of 16 hexadecimal digits."}))
refusal("unknown-mailbox", 404, compact(
    {"error": "unknown-mailbox",
     "message": "There is no mailbox 9; it may have expired or been closed."}))
refusal("nameplate-unavailable", 409, compact(
    {"error": "nameplate-unavailable", "message": "Mailbox 1 is already open for another chat."}),
    put=True)
refusal("mailbox-replaced", 412, compact(
    {"error": "mailbox-replaced",
     "message": "Mailbox 1 is not the one you used: this server has restarted, or the mailbox "
                "expired, and the number was opened again."}))
refusal("no-free-mailbox", 503, compact(
    {"error": "no-free-mailbox",
     "message": "All 2 mailboxes are in use; try again in a few minutes."}),
    mailbox=False, wait=3)
refusal("rate-limited", 429, compact(
    {"error": "rate-limited",
     "message": "Too many requests from 127.0.0.1; try again in 1 seconds."}),
    mailbox=False, wait=2)
refusal("turn-not-configured", 404, compact(
    {"error": "turn-not-configured",
     "message": "This rendezvous server offers no STUN or TURN servers."}), mailbox=False)
refusal("proxy-html", 503, "<html><body>Bad gateway</body></html>", mailbox=False, wait=1)


# Request bodies for the post reader, and one nested too deep for json-glib.
write("post-reader", "array", '["side","a"]')
write("post-reader", "empty-name", '{"":"x"}')
write("post-reader", "empty-object", "{}")
write("post-reader", "escapes",
      '{"side":"a\\"b\\\\c\\/d\\n\\t","phase":"cand","body":"x\\u00e9\\u0000y"}')
write("post-reader", "other-values", '{"side":1,"phase":null,"body":["a"],"more":{"side":"x"}}')
write("post-reader", "post", '{"side":"0123456789abcdef","phase":"pake","body":"aGVsbG8="}')
write("post-reader", "repeated", '{"side":"a","side":"b"}')
write("post-reader", "spaced",
      ' { "phase" : "desc" , "side":"0123456789ABCDEF",\n"body":"", "extra":"x" } ')
write("post-reader", "trailing-comma", '{"side":"a",}')
write("post-reader", "utf8", '{"body":"\u00e9"}')
write("post-reader", "deep", '{"side":"0123456789abcdef","x":' + "[" * DEEP)
refusal("unauthorized", 401, compact(
    {"error": "unauthorized",
     "message": "The request does not carry the secret of a side of mailbox 42."}))
refusal("mailbox-mismatch", 409, compact(
    {"error": "mailbox-mismatch",
     "message": "Mailbox 42 holds another chat than the one you were in."}))
refusal("turn-quota", 429, compact(
    {"error": "turn-quota",
     "message": "This side of mailbox 42 has had its 4 sets of TURN credentials for now; try "
                "again in 3599 seconds."}), wait=3)
refusal("redirect", 302, "", mailbox=False)


# Identity backups (src/core/identity/ph-identity-backup.h). Byte 0 picks
# the parser: bit 0 the decrypted payload (1) or the file's header (0),
# bit 1 whether the target makes the header checksum right. The header
# checksum is BLAKE2b-128, as crypto_generichash makes it.
def backup_header(version=1, opslimit=1, memlimit_kib=8, ciphertext_size=48, checksum=True):
    head = (b"PHBACKUP" + struct.pack(">HII", version, opslimit, memlimit_kib)
            + bytes(range(16)) + bytes(range(100, 124)) + struct.pack(">I", ciphertext_size)
            + bytes(range(200, 216)))
    digest = hashlib.blake2b(head, digest_size=16).digest() if checksum else bytes(16)
    return head + digest + bytes(range(ciphertext_size))


write("identity-backup", "header-cheap", b"\x00" + backup_header())
write("identity-backup", "header-moderate", b"\x00" + backup_header(opslimit=3, memlimit_kib=262144, ciphertext_size=16))
write("identity-backup", "header-bad-checksum", b"\x00" + backup_header(checksum=False))
write("identity-backup", "header-fixed-greedy", b"\x02" + backup_header(memlimit_kib=0x7fffffff, checksum=False))
write("identity-backup", "header-fixed-short-ciphertext", b"\x02" + backup_header(ciphertext_size=15, checksum=False))
write("identity-backup", "header-newer", b"\x00" + backup_header(version=2))
write("identity-backup", "header-truncated", b"\x00" + backup_header()[:60])
write("identity-backup", "header-trailing", b"\x00" + backup_header() + b"x")
write("identity-backup", "not-a-backup", b"\x00PHBACKUQ")


def section(kind, body):
    return struct.pack(">BI", kind, len(body)) + body


# Seed 00 01 … 1f and its Ed25519 public key (tests/test-identity.c checks
# the same pair).
SEED = bytes(range(32))
PUBLIC = bytes.fromhex("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")
records = [b"alice", b"", b"bob\x00record"]
contacts = struct.pack(">I", len(records)) + b"".join(struct.pack(">I", len(r)) + r for r in records)
write("identity-backup", "payload-identity", b"\x01" + section(1, SEED + PUBLIC))
write("identity-backup", "payload-contacts",
      b"\x01" + section(1, SEED + PUBLIC) + section(2, contacts))
write("identity-backup", "payload-contacts-first",
      b"\x01" + section(2, struct.pack(">I", 0)) + section(1, SEED + PUBLIC))
write("identity-backup", "payload-unknown-section",
      b"\x01" + section(1, SEED + PUBLIC) + section(7, b"later"))


# Batches (rendezvous-answer parser 10): the body of a fetched message of
# phase "batch", messages as posted at once (src/core/rendezvous/ph-mailbox-batch.h).
def batch(*messages):
    return b"".join(struct.pack(">B", len(p)) + p + struct.pack(">I", len(b)) + b
                    for p, b in messages)


def batch_answer(name, body):
    write("rendezvous-answer", name, bytes([10, 0]) + body)


batch_answer("batch-setup", batch((b"pake", bytes(32)), (b"confirm", bytes(range(32))),
                                  (b"desc", b"\x00" * 40 + b"sealed description")))
batch_answer("batch-two-candidates", batch((b"cand", b"sealed one"), (b"cand", b"sealed two")))
batch_answer("batch-empty-body", batch((b"bye", b""), (b"cand", b"x")))
batch_answer("batch-nested", batch((b"batch", b"x"), (b"cand", b"x")))
batch_answer("batch-cut-short", batch((b"pake", bytes(32)))[:20])
