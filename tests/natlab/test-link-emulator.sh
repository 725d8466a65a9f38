#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# TAP test of ph-link-emulator: two namespaces joined through it, pinged.
# The round trip must be within 10% of twice the one-way delay asked for.
set -uo pipefail

emulator=${PH_LINK_EMULATOR_BIN:?set PH_LINK_EMULATOR_BIN to the built ph-link-emulator}
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
x=phle$id-x
e=phle$id-e
y=phle$id-y
emulator_pid=

echo "1..4"

bail() {
  echo "Bail out! $*"
  exit 1
}

cleanup() {
  [[ -z $emulator_pid ]] || kill "$emulator_pid" 2>/dev/null
  [[ -z $emulator_pid ]] || wait "$emulator_pid" 2>/dev/null
  for name in $x $e $y; do
    ip netns delete "$name" 2>/dev/null
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

((EUID == 0)) || bail "the link emulator test needs root (network namespaces); run the natlab suite as root"
command -v ping >/dev/null || bail "ping is missing: apt-get install iputils-ping"

for name in $x $e $y; do
  ip netns add "$name" || bail "cannot create network namespaces"
  ip -n "$name" link set lo up
done
ip link add eth0 netns "$x" type veth peer name l0 netns "$e"
ip link add l1 netns "$e" type veth peer name eth0 netns "$y"
for pair in "$x eth0" "$e l0" "$e l1" "$y eth0"; do
  set -- $pair
  ip -n "$1" link set "$2" up
done
ip -n "$x" addr add 203.0.113.1/24 dev eth0
ip -n "$y" addr add 203.0.113.2/24 dev eth0

start() {
  [[ -z $emulator_pid ]] || { kill "$emulator_pid"; wait "$emulator_pid" 2>/dev/null; }
  ip netns exec "$e" "$emulator" --a l0 --b l1 "$@" &
  emulator_pid=$!
  # The first ping also resolves the neighbour; wait until one gets through.
  for _ in $(seq 50); do
    ip netns exec "$x" ping -n -q -c1 -W1 203.0.113.2 >/dev/null 2>&1 && return 0
  done
  return 1
}

# Prints "avg mdev" in milliseconds over 20 pings. With jitter, ping may
# add ", pipe N" after the numbers (replies overlapping); it is dropped so
# that mdev stays a number.
measure() {
  ip netns exec "$x" ping -n -q -c20 -i0.05 -W2 203.0.113.2 |
    sed -nE 's|.*= [0-9.]+/([0-9.]+)/[0-9.]+/([0-9.]+) ms.*|\1 \2|p'
}

check_rtt() {
  local n=$1 want=$2 label=$3
  shift 3
  if ! start "$@"; then
    echo "not ok $n - $label: no packet got through the emulator"
    return
  fi
  read -r avg mdev < <(measure)
  echo "# $label: want ${want} ms, measured avg ${avg:-none} ms (mdev ${mdev:-none} ms)"
  if [[ -n ${avg:-} ]] && awk -v a="$avg" -v w="$want" 'BEGIN { exit !(a >= w * 0.9 && a <= w * 1.1) }'; then
    echo "ok $n - $label"
  else
    echo "not ok $n - $label"
  fi
}

if start --delay 0; then
  read -r avg mdev < <(measure)
  echo "# no delay: avg ${avg:-none} ms"
  awk -v a="${avg:-99}" 'BEGIN { exit !(a < 2) }' && echo "ok 1 - frames pass unchanged without delay" ||
    echo "not ok 1 - frames pass unchanged without delay"
else
  echo "not ok 1 - frames pass unchanged without delay"
fi
check_rtt 2 40 "20 ms each way gives a 40 ms round trip" --delay 20
check_rtt 3 10 "5 ms each way gives a 10 ms round trip" --delay 5

# Jitter: ±10 ms around 20 ms must spread the round trips and keep the mean.
if start --delay 20 --jitter 10; then
  read -r avg mdev < <(measure)
  echo "# jitter 10 ms: avg ${avg:-none} ms, mdev ${mdev:-none} ms"
  if awk -v a="${avg:-0}" -v m="${mdev:-0}" 'BEGIN { exit !(a >= 36 && a <= 48 && m >= 2) }'; then
    echo "ok 4 - jitter spreads the round trip around the delay"
  else
    echo "not ok 4 - jitter spreads the round trip around the delay"
  fi
else
  echo "not ok 4 - jitter spreads the round trip around the delay"
fi
