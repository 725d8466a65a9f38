#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# demo.sh: watch NAT traversal happen. Builds a NAT lab (natlab.sh) and
# opens two Pinhole windows on your display, each inside its own NATed
# network namespace, talking through the lab's rendezvous and coturn.
#
#   sudo tests/natlab/demo.sh [--nat-a TYPE] [--nat-b TYPE] [--delay MS] [--cli]
#
# TYPE: none, full-cone, address-restricted, port-restricted (default),
# symmetric. Host a chat in window A and join it in window B with the
# code; the inspector shows the path ICE found (try symmetric/symmetric to
# watch it fall back to the relay). --cli (or no built GUI) runs two
# pinhole-cli peers in a tmux session instead: the host on the left, the
# joiner on the right, which joins with the host's code by itself. Closing
# the windows (or leaving tmux) takes the lab down.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${PINHOLE_BUILD_DIR:-$top/_build}
natlab=$here/natlab.sh
nat_a=port-restricted
nat_b=port-restricted
delay=0
use_cli=0

while (($#)); do
  case $1 in
    --nat-a) nat_a=$2; shift ;;
    --nat-b) nat_b=$2; shift ;;
    --delay) delay=$2; shift ;;
    --cli) use_cli=1 ;;
    *) sed -n '4,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
  shift
done

((EUID == 0)) || { echo "demo: the NAT lab needs root; run: sudo $0 $*" >&2; exit 1; }
gui=${PINHOLE_GUI_BIN:-$build/src/gui/pinhole}
cli=${PINHOLE_CLI_BIN:-$build/src/cli/pinhole-cli}
if ((!use_cli)) && [[ ! -x $gui ]]; then
  echo "demo: no GUI at $gui; showing two pinhole-cli peers in tmux instead" >&2
  use_cli=1
fi
if ((use_cli)); then
  command -v tmux >/dev/null || { echo "demo: tmux is missing: apt-get install tmux" >&2; exit 1; }
  [[ -x $cli ]] || { echo "demo: build pinhole-cli first (scripts/build.sh)" >&2; exit 1; }
elif [[ -z ${DISPLAY:-}${WAYLAND_DISPLAY:-} ]]; then
  echo "demo: no display; run it from a desktop session (sudo -E keeps DISPLAY) or use --cli" >&2
  exit 1
fi

id=demo$(head -c2 /dev/urandom | od -An -tx1 | tr -d ' \n')
workdir=$(mktemp -d)
trap '"$natlab" down "$id"; rm -rf "$workdir"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$natlab" up --id "$id" --nat-a "$nat_a" --nat-b "$nat_b" --delay "$delay" >"$workdir/env"
# shellcheck source=/dev/null
source "$workdir/env"
echo "Lab $id: A behind $nat_a (public $NATLAB_RA_WAN), B behind $nat_b, rendezvous $NATLAB_RENDEZVOUS"

if ((use_cli)); then
  # The joiner waits for the host's code in the host's output, then joins.
  cat >"$workdir/host.sh" <<EOF
echo "Peer A, behind a $nat_a NAT. Type lines to send them; Ctrl+D leaves."
"$natlab" exec "$id" a "$cli" --rendezvous "$NATLAB_RENDEZVOUS" --name A host 2>&1 | tee "$workdir/host.out"
read -rp "Chat over. Enter closes this pane."
EOF
  cat >"$workdir/join.sh" <<EOF
echo "Peer B, behind a $nat_b NAT. Waiting for A's code…"
until code=\$(grep -oE '[0-9]+-[a-z]+-[a-z]+' "$workdir/host.out" 2>/dev/null | head -n1) && [[ -n \$code ]]; do sleep 0.2; done
echo "Joining \$code"
"$natlab" exec "$id" b "$cli" --rendezvous "$NATLAB_RENDEZVOUS" --name B join "\$code"
read -rp "Chat over. Enter closes this pane."
EOF
  session=pinhole-$id
  tmux new-session -d -s "$session" -x 200 -y 50 "bash $workdir/host.sh"
  tmux split-window -h -t "$session" "bash $workdir/join.sh"
  tmux attach -t "$session" || true
  exit 0
fi

# Each window gets its own profile (its own app id), its own session bus
# (an abstract-socket bus from the host would not be reachable from a
# network namespace) and its own settings in a scratch keyfile, named after
# its side and NAT, so your own Pinhole settings are untouched. STUN and
# TURN come from the lab's rendezvous.
run_window() {
  local side=$1 profile=$2 name=$3
  local config=$workdir/config-$side
  mkdir -p "$config/glib-2.0/settings"
  printf "[io/github/pinhole/Pinhole]\ndisplay-name='%s'\n" "$name" \
    >"$config/glib-2.0/settings/keyfile"
  "$natlab" exec "$id" "$side" env PINHOLE_RENDEZVOUS="$NATLAB_RENDEZVOUS" \
    GSETTINGS_BACKEND=keyfile XDG_CONFIG_HOME="$config" GSETTINGS_SCHEMA_DIR="$build/data" \
    DISPLAY="${DISPLAY:-}" WAYLAND_DISPLAY="${WAYLAND_DISPLAY:-}" \
    XAUTHORITY="${XAUTHORITY:-}" XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$workdir}" \
    dbus-run-session -- "$gui" --profile "$profile" &
}
run_window a natlab_a Alice
run_window b natlab_b Bob
echo "Two windows are open: Alice behind a $nat_a NAT, Bob behind a $nat_b NAT. Start a chat in one, join it with its code in the other. Close both to end."
wait
