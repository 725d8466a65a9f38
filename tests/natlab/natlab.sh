#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# natlab.sh: a small simulated internet on one machine, to watch Pinhole
# (or anything else) cross real NATs. Needs root, iproute2, nftables,
# conntrack, coturn, openssl and tinyproxy. Field notes this follows:
# shared/NOTES.md, "coturn and the NAT lab".
#
#   natlab.sh up [--id ID] [--nat-a TYPE] [--nat-b TYPE] [--hairpin]
#                [--dual-stack] [--delay MS] [--jitter MS] [--loss PCT] [--port-mapping a]
#                [--hold]
#       Builds a lab and prints its env file (NAME=VALUE lines, also kept
#       in /run/natlab/ID/env). TYPE: none, full-cone, address-restricted,
#       port-restricted, symmetric, or one of the networks where chats get
#       stuck (a port-restricted NAT with a firewall): udp-blocked (only TCP
#       is forwarded, as on hotel Wi-Fi), proxy-only (nothing gets out but
#       TCP to the lab's HTTP proxy, which CONNECTs to port 443 only, and to
#       the rendezvous server, which stands in for the web pages an office
#       lets through). coturn serves TURN over UDP and TCP on 3478 and over
#       TLS on 443 with a certificate the lab makes (NATLAB_TURN_CA).
#       --dual-stack also gives both routers and hosts global IPv6
#       (2001:db8:a::/64, 2001:db8:b::/64, routed through inet, no NAT66),
#       behind a stateful firewall on each router that lets in only
#       answers. --delay/--jitter are one-way, per access
#       link (each router's WAN cable), so two peers see a round trip of
#       4 × delay and a peer sees the servers at 2 × delay. --loss drops
#       that percentage (one decimal allowed) of packets crossing each
#       router, both directions: two peers behind routers lose about twice
#       as much between them.
#       --port-mapping a runs miniupnpd (NAT-PMP, PCP, UPnP-IGD) on router
#       A, which then forwards the ports its host asks for (see
#       start_port_mapping); a:upnp, UPnP-IGD only.
#       --hairpin puts both peers on router A's LAN. With --hold the lab
#       lives until standard input ends (or INT/TERM) and is then torn down;
#       tests use this so a crashed test never leaks a lab.
#   natlab.sh nat ID a|b TYPE      switch a router's NAT type, forgetting
#                                  every mapping it had
#   natlab.sh cut ID a|b on|off    on: the router's uplink drops every packet
#                                  both ways (a dead access line); off: back
#   natlab.sh flush ID a|b         the router forgets every NAT mapping
#                                  (conntrack -F), as after a router reboot
#   natlab.sh loss ID a|b PCT      from now on the router drops PCT% (one
#                                  decimal allowed) of what it forwards,
#                                  both ways, on top of --loss (0: stop);
#                                  its mappings are kept
#   natlab.sh service ID rendezvous|turn stop|start|restart
#                                  stop: the server process is terminated
#                                  (and gone, its ports closed, on return);
#                                  start: a new one on the same addresses,
#                                  listening on return; it has none of the
#                                  old one's state (mailboxes, allocations)
#                                  (turn: coturn; the proxy never stops)
#   natlab.sh exec ID a|b|srv|inet|ra|rb CMD…   run CMD in that namespace
#   natlab.sh down ID              tear the lab down
#   natlab.sh list                 labs that exist
#
# Topology (addresses from the documentation ranges only; 10.x and
# 192.168.x exist only on the private LANs, inside the lab's namespaces):
#
#   a 10.0.1.2 ── ra (NAT A, wan 198.51.100.2) ──[link A]──┐
#                                                         inet (bridge, 203.0.113.1, 198.51.100.1)
#   b 192.168.1.2 ── rb (NAT B, wan 198.51.100.3) ──[link B]──┤
#                                                         srv 203.0.113.10 + .11: coturn, pinhole-rendezvous
#
# With --nat-X none the peer is a public host (198.51.100.18 / .34).
# srv 203.0.113.12:3128 is the HTTP proxy (tinyproxy). With --dual-stack,
# inet is 2001:db8:ff::1 and the routers' wan 2001:db8:ff::2 / ::3.
# A link with delay or jitter is two veth cables joined by ph-link-emulator.
set -euo pipefail

STATE_ROOT=/run/natlab
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

SRV_IP=203.0.113.10
SRV_ALT_IP=203.0.113.11
INET_SRV_IP=203.0.113.1
INET_WAN_IP=198.51.100.1
STUN_PORT=3478
RENDEZVOUS_PORT=8470
TURN_REALM=natlab
TURN_TLS_PORT=443
PROXY_IP=203.0.113.12
PROXY_PORT=3128
INET_IP6=2001:db8:ff::1

die() {
  echo "natlab: $*" >&2
  exit 1
}

usage() {
  sed -n '4,55p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

ns() { echo "ph$1-$2"; }
in_ns() {
  local name=$1
  shift
  ip netns exec "$name" "$@"
}

# Finds a built program: $VAR if set, else in the build tree, else on PATH.
find_program() {
  local var=$1 name=$2 sub=$3 dir
  if [[ -n ${!var:-} ]]; then
    echo "${!var}"
    return
  fi
  for dir in "${PINHOLE_BUILD_DIR:-}" "$TOP/_build"; do
    if [[ -n $dir && -x $dir/$sub/$name ]]; then
      echo "$dir/$sub/$name"
      return
    fi
  done
  command -v "$name" || die "cannot find $name; build the project or set $var"
}

check_tools() {
  ((EUID == 0)) || die "the NAT lab needs root (network namespaces, nftables); run it with sudo"
  local tool
  for tool in ip nft conntrack turnserver openssl ss tinyproxy; do
    command -v "$tool" >/dev/null || die "$tool is missing; install the packages in scripts/debian-packages.txt"
  done
}

# Creates a namespace with loopback up, IPv6 off (the lab is IPv4 only, and
# link-local candidates would only add noise) and forwarding as asked.
make_ns() {
  local name=$1 forward=$2
  ip netns add "$name"
  in_ns "$name" ip link set dev lo up
  in_ns "$name" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  in_ns "$name" sysctl -qw net.ipv4.ip_forward="$forward"
}

# veth cable: ends named $2 in namespace $1 and $4 in namespace $3.
cable() {
  ip link add name "$2" netns "$1" type veth peer name "$4" netns "$3"
  in_ns "$1" ip link set dev "$2" up
  in_ns "$3" ip link set dev "$4" up
}

start_daemon() {
  # Starts "$@" in the background and records its pid under $name.pid.
  local name=$1
  shift
  "$@" >"$STATE/$name.log" 2>&1 &
  echo $! >"$STATE/$name.pid"
}

wait_listening() {
  local name=$1 proto=$2 address=$3 tries=0
  until in_ns "$name" ss -Hln"$proto" "src $address" | grep -q .; do
    ((++tries < 100)) || die "nothing listens on $address in $name; see $STATE/*.log"
    sleep 0.05
  done
}

# --- NAT types (NOTES: "NAT types with nftables in a router namespace") ---
#
# Every router has an input chain that drops what arrives on wan unasked,
# so unsolicited packets vanish silently as on consumer routers (an ICMP
# reply would change ICE's behaviour), and a forward chain for --loss
# (nft numgen; there is no netem on this kernel).

nat_rules_none() { :; }

# Linux keeps a plain snat endpoint-independent and filters on the remote
# address and port: a port-restricted cone.
nat_rules_port_restricted() {
  echo "add rule ip natlab post oifname \"wan\" snat to $1"
}

nat_rules_symmetric() {
  echo "add rule ip natlab post oifname \"wan\" meta l4proto { tcp, udp } snat to $1:20000-60000 fully-random"
  echo "add rule ip natlab post oifname \"wan\" snat to $1"
}

# Full cone: the same mapping, and anything sent to the WAN address goes
# to the host, whoever sent it.
nat_rules_full_cone() {
  nat_rules_port_restricted "$1"
  echo "add rule ip natlab pre iifname \"wan\" ip daddr $1 dnat to $2"
}

# Address-restricted: remember every address the host sent to, and let in
# only packets from those addresses (to any mapped port).
nat_rules_address_restricted() {
  nat_rules_port_restricted "$1"
  echo "add set ip natlab contacted { type ipv4_addr; flags dynamic, timeout; timeout 5m; }"
  echo "add rule ip natlab forward oifname \"wan\" update @contacted { ip daddr }"
  echo "add rule ip natlab pre iifname \"wan\" ip daddr $1 ip saddr @contacted dnat to $2"
}

# --- networks where chats get stuck: UDP blocked, proxy only, dual stack ---
#
# The first two are a port-restricted NAT with a firewall in its forward
# chain; dual stack adds IPv6 beside whatever IPv4 NAT a router has.

# Hotel Wi-Fi: TCP goes out, UDP does not, whoever it is for (STUN too).
nat_rules_udp_blocked() {
  nat_rules_port_restricted "$1"
  echo "add rule ip natlab forward meta l4proto udp drop"
}

# An office that lets nothing out but through its HTTP proxy. The
# rendezvous server stands in for the web pages it lets through (a
# transparent proxy's job), so that a chat can be set up at all.
nat_rules_proxy_only() {
  nat_rules_port_restricted "$1"
  echo "add rule ip natlab forward iifname \"wan\" ct state established,related accept"
  echo "add rule ip natlab forward oifname \"wan\" ip daddr $PROXY_IP tcp dport $PROXY_PORT accept"
  echo "add rule ip natlab forward oifname \"wan\" ip daddr $SRV_IP tcp dport $RENDEZVOUS_PORT accept"
  echo "add rule ip natlab forward drop"
}

# coturn's certificate for TLS on 443: P-256, made in well under a
# millisecond (NOTES: RSA keys take hundreds), for the address peers dial.
make_turn_certificate() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=natlab-turn" -addext "subjectAltName=IP:$SRV_IP" \
    -keyout "$STATE/turn-key.pem" -out "$STATE/turn-cert.pem" 2>/dev/null
}

# An HTTP proxy that CONNECTs to port 443 only, as office proxies do.
start_proxy() {
  cat >"$STATE/tinyproxy.conf" <<EOF
Port $PROXY_PORT
Listen $PROXY_IP
Allow 198.51.100.0/24
ConnectPort $TURN_TLS_PORT
Timeout 120
MaxClients 50
LogLevel Connect
EOF
  start_daemon tinyproxy ip netns exec "$SRV" tinyproxy -d -c "$STATE/tinyproxy.conf"
  wait_listening "$SRV" t "$PROXY_IP:$PROXY_PORT"
}

# Turns IPv6 on in namespace $1 (make_ns turned it off), without duplicate
# address detection: the lab's addresses are unique, and tentative ones
# would only delay the first packets.
ipv6_on() {
  in_ns "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  in_ns "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
}

# Global IPv6 for router $1 (side a|b, its wan on inet's bridge as ::$2)
# and its host, and the router's firewall: answers come in, nothing new.
make_ipv6_side() {
  local side=$1 suffix=$2 router host prefix
  router=$(ns "$ID" "r$side")
  host=$(ns "$ID" "$side")
  prefix=2001:db8:$side
  ipv6_on "$router"
  ipv6_on "$host"
  in_ns "$router" sysctl -qw net.ipv6.conf.all.forwarding=1
  in_ns "$router" ip -6 addr add "2001:db8:ff::$suffix/64" dev wan nodad
  in_ns "$router" ip -6 route add default via "$INET_IP6"
  in_ns "$router" ip -6 addr add "$prefix::1/64" dev lan nodad
  in_ns "$host" ip -6 addr add "$prefix::2/64" dev eth0 nodad
  in_ns "$host" ip -6 route add default via "$prefix::1"
  in_ns "$INET" ip -6 route add "$prefix::/64" via "2001:db8:ff::$suffix"
  in_ns "$router" nft -f - <<EOF
add table ip6 natlab6
add chain ip6 natlab6 forward { type filter hook forward priority filter; }
add rule ip6 natlab6 forward iifname "wan" ct state established,related accept
add rule ip6 natlab6 forward iifname "wan" drop
EOF
  echo "NATLAB_${side^^}_IP6=$prefix::2" >>"$STATE/env"
}

make_dual_stack() {
  local tries=0
  ipv6_on "$INET"
  in_ns "$INET" sysctl -qw net.ipv6.conf.all.forwarding=1
  in_ns "$INET" ip -6 addr add "$INET_IP6/64" dev br nodad
  make_ipv6_side a 2
  make_ipv6_side b 3
  # Each host pings the other's router (its own address, so through that
  # firewall): on return every hop works and knows its neighbours.
  until in_ns "$(ns "$ID" a)" ping -6 -c1 -W1 -q 2001:db8:b::1 >/dev/null &&
    in_ns "$(ns "$ID" b)" ping -6 -c1 -W1 -q 2001:db8:a::1 >/dev/null; do
    ((++tries < 10)) || die "IPv6 does not cross the lab; see $STATE"
  done
  echo "NATLAB_DUAL_STACK=1" >>"$STATE/env"
}

# Sets LOSS_PER_MILLE from LOSS, a percentage such as 5 or 2.5 (nft's
# numgen draws whole numbers).
parse_loss() {
  [[ $LOSS =~ ^([0-9]+)(\.([0-9]))?$ ]] || return 1
  LOSS_PER_MILLE=$((10#${BASH_REMATCH[1]} * 10 + 10#${BASH_REMATCH[3]:-0}))
  ((LOSS_PER_MILLE <= 1000))
}

# Writes a router's ruleset: $1 router namespace, $2 NAT type, $3 WAN
# address, $4 the LAN host full-cone and address-restricted forward to.
apply_nat() {
  local router=$1 type=$2 wan=$3 host=$4 fn
  case $type in
    none | full-cone | address-restricted | port-restricted | symmetric | udp-blocked | proxy-only) ;;
    *) die "unknown NAT type “$type”: use none, full-cone, address-restricted, port-restricted, symmetric, udp-blocked or proxy-only" ;;
  esac
  fn=nat_rules_${type//-/_}
  {
    echo "table ip natlab"
    echo "delete table ip natlab"
    echo "add table ip natlab"
    echo "add chain ip natlab pre { type nat hook prerouting priority dstnat; }"
    echo "add chain ip natlab post { type nat hook postrouting priority srcnat; }"
    echo "add chain ip natlab forward { type filter hook forward priority filter; }"
    echo "add chain ip natlab input { type filter hook input priority filter; }"
    if ((LOSS_PER_MILLE > 0)); then
      echo "add rule ip natlab forward numgen random mod 1000 < $LOSS_PER_MILLE drop"
    fi
    if [[ $type != none ]]; then
      echo "add rule ip natlab input iifname \"wan\" ct state established,related accept"
      echo "add rule ip natlab input iifname \"wan\" drop"
    fi
    "$fn" "$wan" "$host"
  } | in_ns "$router" nft -f -
  # A new NAT type starts with no mappings at all.
  in_ns "$router" conntrack -F >/dev/null 2>&1 || true
  echo "$type" >"$STATE/nat-$router"
}

# One access link: router's wan cable to the internet bridge, through the
# link emulator when there is delay or jitter.
make_link() {
  local router=$1 port=$2
  if [[ $DELAY == 0 && $JITTER == 0 ]]; then
    cable "$router" wan "$INET" "$port"
  else
    cable "$router" wan "$INET" "${port}e0"
    cable "$INET" "${port}e1" "$INET" "$port"
    start_daemon "emu-$port" ip netns exec "$INET" "$EMULATOR" --a "${port}e0" --b "${port}e1" \
      --delay "$DELAY" --jitter "$JITTER"
  fi
  in_ns "$INET" ip link set dev "$port" master br
}

# A router with its LAN. $1 side (a|b), $2 NAT type, $3 WAN address,
# $4 public LAN prefix (for "none"), $5 private LAN prefix (first three bytes).
make_router() {
  local side=$1 type=$2 wan=$3 public_net=$4 private_net=$5
  local router lan_router lan_host prefix_len
  router=$(ns "$ID" "r$side")
  make_ns "$router" 1
  make_link "$router" "p$side"
  in_ns "$router" ip addr add "$wan/28" dev wan
  in_ns "$router" ip route add default via "$INET_WAN_IP"

  if [[ $type == none ]]; then
    lan_router=${public_net%.*}.$(( ${public_net##*.} + 1 ))
    lan_host=${public_net%.*}.$(( ${public_net##*.} + 2 ))
    prefix_len=28
    in_ns "$INET" ip route add "$public_net/28" via "$wan"
  else
    lan_router=$private_net.1
    lan_host=$private_net.2
    prefix_len=24
  fi
  in_ns "$router" ip link add name lan type bridge
  in_ns "$router" ip link set dev lan up
  in_ns "$router" ip addr add "$lan_router/$prefix_len" dev lan

  attach_host "$side" "$router" "$lan_host" "$prefix_len" "$lan_router"
  apply_nat "$router" "$type" "$wan" "$lan_host"
  echo "NATLAB_R${side^^}_WAN=$wan" >>"$STATE/env"
  echo "NATLAB_NAT_${side^^}=$type" >>"$STATE/env"
}

# A peer namespace on a router's LAN bridge.
attach_host() {
  local side=$1 router=$2 address=$3 prefix_len=$4 gateway=$5 host
  host=$(ns "$ID" "$side")
  make_ns "$host" 0
  cable "$host" eth0 "$router" "h$side"
  in_ns "$router" ip link set dev "h$side" master lan
  in_ns "$host" ip addr add "$address/$prefix_len" dev eth0
  in_ns "$host" ip route add default via "$gateway"
  {
    echo "NATLAB_NS_${side^^}=$host"
    echo "NATLAB_${side^^}_IP=$address"
  } >>"$STATE/env"
}

# A time-limited TURN credential in coturn's --use-auth-secret scheme
# (the same one pinhole-rendezvous's /v1/turn hands out), valid a day.
turn_credential() {
  TURN_USER="$(($(date +%s) + 86400)):natlab"
  TURN_PASS=$(printf %s "$TURN_USER" | openssl dgst -sha1 -hmac "$TURN_SECRET" -binary | base64)
}

# Two listening addresses: coturn then answers RFC 5780 CHANGE-REQUESTs.
# Private peers are denied, as any public TURN server should. The log goes
# on across restarts.
start_coturn() {
  ip netns exec "$SRV" turnserver -n --no-dtls --no-cli \
    --listening-ip="$SRV_IP" --listening-ip="$SRV_ALT_IP" --relay-ip="$SRV_IP" \
    --listening-port="$STUN_PORT" --min-port=49152 --max-port=65535 \
    --tls-listening-port="$TURN_TLS_PORT" --cert="$STATE/turn-cert.pem" --pkey="$STATE/turn-key.pem" \
    --realm="$TURN_REALM" --fingerprint --use-auth-secret --static-auth-secret="$TURN_SECRET" \
    --denied-peer-ip=10.0.0.0-10.255.255.255 --denied-peer-ip=172.16.0.0-172.31.255.255 \
    --denied-peer-ip=192.168.0.0-192.168.255.255 --no-software-attribute \
    --log-file=stdout --simple-log --pidfile="$STATE/turnserver.pidfile" >>"$STATE/coturn.log" 2>&1 &
  echo $! >"$STATE/coturn.pid"
  wait_listening "$SRV" u "$SRV_IP:$STUN_PORT"
  wait_listening "$SRV" u "$SRV_ALT_IP:$STUN_PORT"
  wait_listening "$SRV" t "$SRV_IP:$TURN_TLS_PORT"
}

start_rendezvous() {
  ip netns exec "$SRV" "$(<"$STATE/rendezvous.bin")" --listen "$SRV_IP" --port "$RENDEZVOUS_PORT" \
    --store memory: \
    --turn-secret "$TURN_SECRET" --turn-uri "turn:$SRV_IP:$STUN_PORT?transport=udp" \
    --stun-uri "stun:$SRV_IP:$STUN_PORT" \
    --allocations-per-minute 100000 --joins-per-hour 100000 >>"$STATE/rendezvous.log" 2>&1 &
  echo $! >"$STATE/rendezvous.pid"
  wait_listening "$SRV" t "$SRV_IP:$RENDEZVOUS_PORT"
}

make_servers() {
  SRV=$(ns "$ID" srv)
  make_ns "$SRV" 0
  cable "$SRV" eth0 "$INET" s
  in_ns "$INET" ip link set dev s master br
  in_ns "$SRV" ip addr add "$SRV_IP/28" dev eth0
  in_ns "$SRV" ip addr add "$SRV_ALT_IP/28" dev eth0
  in_ns "$SRV" ip addr add "$PROXY_IP/28" dev eth0
  in_ns "$SRV" ip route add 198.51.100.0/24 via "$INET_SRV_IP"
  # NOTES: without a default route, relaying towards a peer's private host
  # candidate fails at sendto and coturn drops the whole allocation. A
  # cable to nowhere swallows those packets silently instead: no ARP on
  # it, and its far end has no address (this kernel has no dummy driver).
  cable "$SRV" sink "$SRV" sinkhole
  in_ns "$SRV" ip link set dev sink arp off
  in_ns "$SRV" ip route add default dev sink

  echo "$RENDEZVOUS_BIN" >"$STATE/rendezvous.bin"
  make_turn_certificate
  start_coturn
  start_rendezvous
  start_proxy
  turn_credential
  cat >>"$STATE/env" <<EOF
NATLAB_NS_SRV=$SRV
NATLAB_NS_INET=$INET
NATLAB_RENDEZVOUS=http://$SRV_IP:$RENDEZVOUS_PORT
NATLAB_STUN=$SRV_IP:$STUN_PORT
NATLAB_STUN_ALT=$SRV_ALT_IP:$STUN_PORT
NATLAB_TURN=turn:$SRV_IP:$STUN_PORT?transport=udp
NATLAB_TURN_USER=$TURN_USER
NATLAB_TURN_PASS=$TURN_PASS
NATLAB_TURN_SECRET=$TURN_SECRET
NATLAB_TURN_TCP=turn:$SRV_IP:$STUN_PORT?transport=tcp
NATLAB_TURNS=turns:$SRV_IP:$TURN_TLS_PORT
NATLAB_TURN_CA=$STATE/turn-cert.pem
NATLAB_PROXY=http://$PROXY_IP:$PROXY_PORT
NATLAB_PROXY_LOG=$STATE/tinyproxy.log
EOF
}

# --- router port mapping (--port-mapping a) ---
#
# miniupnpd 2.3.1 refuses to map when its external address is reserved,
# and every documentation range is (it says "Port forwarding is
# impossible"), so the mapped ports live on an address of their own,
# MAPPED_WAN_IP, on router A's WAN cable: not a documentation address, but
# one that exists only inside the lab (the internet namespace routes it to
# router A; nothing routes it out of the lab). Outgoing traffic keeps the
# router's NAT type; only what arrives at a mapped port is forwarded.
MAPPED_WAN_IP=192.0.1.2

# Its own nftables table, with the chains miniupnpd fills (as
# /etc/miniupnpd/nft_init.sh makes them, but the forward chain accepts:
# the lab's routers forward everything else).
port_mapping_tables() {
  cat <<EOF
table inet miniupnpd
delete table inet miniupnpd
table inet miniupnpd {
  chain forward {
    type filter hook forward priority filter; policy accept;
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority dstnat - 1; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority srcnat - 1; policy accept;
    jump postrouting_miniupnpd
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
}
EOF
}

# Starts miniupnpd on router $1 for its LAN host: NAT-PMP/PCP on port
# 5351 and UPnP-IGD (SSDP, HTTP on a random port) on the LAN only, secure
# mode (a host maps only ports to itself), ports above 1023 only.
start_port_mapping() {
  local side=${1%%:*} natpmp=yes router host wan conf
  [[ $1 != *:upnp ]] || natpmp=no
  router=$(ns "$ID" "r$side")
  host=$(sed -n "s/^NATLAB_${side^^}_IP=//p" "$STATE/env")
  wan=$(sed -n "s/^NATLAB_R${side^^}_WAN=//p" "$STATE/env")
  [[ $host != 198.51.100.* ]] || die "--port-mapping needs a NAT on side $side"
  [[ -x /usr/sbin/miniupnpd ]] || die "miniupnpd is missing; install miniupnpd-nftables"
  in_ns "$router" ip addr add "$MAPPED_WAN_IP/32" dev wan
  in_ns "$INET" ip route add "$MAPPED_WAN_IP/32" via "$wan"
  port_mapping_tables | in_ns "$router" nft -f -
  conf=$STATE/miniupnpd-$side.conf
  cat >"$conf" <<EOF
ext_ifname=wan
ext_ip=$MAPPED_WAN_IP
listening_ip=lan
http_port=0
enable_natpmp=$natpmp
enable_upnp=yes
secure_mode=yes
system_uptime=no
lease_file=$STATE/miniupnpd-$side.leases
upnp_table_name=miniupnpd
upnp_nat_table_name=miniupnpd
uuid=$(cat /proc/sys/kernel/random/uuid)
allow 1024-65535 ${host%.*}.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
  start_daemon "miniupnpd-$side" ip netns exec "$router" /usr/sbin/miniupnpd -d -f "$conf" \
    -P "$STATE/miniupnpd-$side.pidfile"
  # SSDP's socket comes last, after the NAT-PMP one.
  local tries=0
  until in_ns "$router" ss -Hlnu 'sport = :1900' | grep -q .; do
    ((++tries < 100)) || die "miniupnpd does not listen in $router; see $STATE/miniupnpd-$side.log"
    sleep 0.05
  done
  echo "NATLAB_PORT_MAPPING_${side^^}=$MAPPED_WAN_IP" >>"$STATE/env"
}

# Tears down everything of lab $1: its processes (by the pids it recorded,
# then whatever still runs in its namespaces), then the namespaces.
down() {
  local id=$1 state=$STATE_ROOT/$1 pidfile name pid names busy
  for pidfile in "$state"/*.pid; do
    [[ -f $pidfile ]] || continue
    pid=$(<"$pidfile")
    kill "$pid" 2>/dev/null || true
  done
  names=$(ip netns list | awk -v p="ph$id-" 'index($1, p) == 1 { print $1 }')
  for name in $names; do
    for pid in $(ip netns pids "$name" 2>/dev/null); do
      kill "$pid" 2>/dev/null || true
    done
  done
  # Whatever has not left after a second did not listen to TERM.
  for _ in $(seq 20); do
    busy=0
    for name in $names; do
      [[ -z $(ip netns pids "$name" 2>/dev/null) ]] || busy=1
    done
    ((busy)) || break
    sleep 0.05
  done
  for name in $names; do
    for pid in $(ip netns pids "$name" 2>/dev/null); do
      kill -KILL "$pid" 2>/dev/null || true
    done
    ip netns delete "$name" 2>/dev/null || true
  done
  rm -rf "$state"
}

cmd_up() {
  ID=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
  local nat_a=port-restricted nat_b=port-restricted hairpin=0 hold=0 dual_stack=0 port_mapping=
  DELAY=0 JITTER=0 LOSS=0 LOSS_PER_MILLE=0
  while (($#)); do
    case $1 in
      --id) ID=$2; shift ;;
      --nat-a) nat_a=$2; shift ;;
      --nat-b) nat_b=$2; shift ;;
      --delay) DELAY=$2; shift ;;
      --jitter) JITTER=$2; shift ;;
      --loss) LOSS=$2; shift ;;
      --hairpin) hairpin=1 ;;
      --dual-stack) dual_stack=1 ;;
      --port-mapping) port_mapping=$2; shift ;;
      --hold) hold=1 ;;
      *) usage ;;
    esac
    shift
  done
  [[ $ID =~ ^[a-z0-9]{1,8}$ ]] || die "--id takes 1 to 8 lowercase letters or digits (it names interfaces)"
  parse_loss || die "--loss takes a percentage with at most one decimal, 0 to 100"
  [[ $DELAY =~ ^[0-9]+(\.[0-9]+)?$ && $JITTER =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
    die "--delay and --jitter take milliseconds"
  ! ((hairpin)) || [[ $nat_a != none ]] || die "--hairpin puts both peers behind NAT A; give --nat-a a NAT type"
  ! ((hairpin && dual_stack)) || die "--dual-stack needs two routers; leave out --hairpin"
  [[ -z $port_mapping || $port_mapping == a || $port_mapping == a:upnp ]] ||
    die "--port-mapping takes a (router A) or a:upnp (UPnP-IGD only)"
  check_tools
  STATE=$STATE_ROOT/$ID
  [[ ! -e $STATE ]] || die "a lab with id $ID exists; take it down with: natlab.sh down $ID"
  RENDEZVOUS_BIN=$(find_program PINHOLE_RENDEZVOUS_BIN pinhole-rendezvous src/server)
  if [[ $DELAY != 0 || $JITTER != 0 ]]; then
    EMULATOR=$(find_program PH_LINK_EMULATOR_BIN ph-link-emulator tests)
  fi
  TURN_SECRET=$(head -c12 /dev/urandom | base64 | tr -d '/+=')

  mkdir -p "$STATE"
  # Every exit path before the lab is handed over takes it down again,
  # without being cut short: a dying test sends the parent-death TERM once
  # for each of its threads.
  trap 'trap "" INT TERM; down "$ID"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  echo "NATLAB_ID=$ID" >"$STATE/env"

  INET=$(ns "$ID" inet)
  make_ns "$INET" 1
  in_ns "$INET" ip link add name br type bridge
  in_ns "$INET" ip link set dev br up
  in_ns "$INET" ip addr add "$INET_SRV_IP/28" dev br
  in_ns "$INET" ip addr add "$INET_WAN_IP/28" dev br

  make_servers
  make_router a "$nat_a" 198.51.100.2 198.51.100.16 10.0.1
  if ((hairpin)); then
    attach_host b "$(ns "$ID" ra)" 10.0.1.3 24 10.0.1.1
    echo "NATLAB_HAIRPIN=1" >>"$STATE/env"
  else
    make_router b "$nat_b" 198.51.100.3 198.51.100.32 192.168.1
  fi
  ! ((dual_stack)) || make_dual_stack
  [[ -z $port_mapping ]] || start_port_mapping "$port_mapping"
  echo "NATLAB_DELAY_MS=$DELAY" >>"$STATE/env"
  echo "NATLAB_LOSS=$LOSS" >>"$STATE/env"
  echo "NATLAB_READY=1" >>"$STATE/env"
  cat "$STATE/env"

  if ((hold)); then
    echo $$ >"$STATE/holder"
    # Lives until our standard input ends; the EXIT trap then cleans up.
    while read -r _; do :; done
    exit 0
  fi
  trap - EXIT INT TERM
}

cmd_nat() {
  (($# == 3)) || usage
  ID=$1
  STATE=$STATE_ROOT/$ID
  [[ -f $STATE/env ]] || die "no lab $ID"
  LOSS=0
  local side=$2 type=$3 wan host
  [[ $side == a || $side == b ]] || usage
  ! grep -q '^NATLAB_HAIRPIN=1' "$STATE/env" || [[ $side == a ]] || die "a hairpin lab has one router, a"
  wan=$(sed -n "s/^NATLAB_R${side^^}_WAN=//p" "$STATE/env")
  host=$(sed -n "s/^NATLAB_${side^^}_IP=//p" "$STATE/env")
  [[ $host == 198.51.100.* ]] && [[ $type != none ]] && die "side $side was built as a public host; build a new lab"
  [[ $host != 198.51.100.* ]] && [[ $type == none ]] && die "side $side has a private LAN; build a new lab for none"
  LOSS=$(sed -n 's/^NATLAB_LOSS=//p' "$STATE/env")
  LOSS=${LOSS:-0}
  parse_loss || die "bad NATLAB_LOSS in $STATE/env"
  apply_nat "$(ns "$ID" "r$side")" "$type" "$wan" "$host"
  sed -i "s/^NATLAB_NAT_${side^^}=.*/NATLAB_NAT_${side^^}=$type/" "$STATE/env"
}

lab_router() {
  local id=$1 side=$2
  [[ -f $STATE_ROOT/$id/env ]] || die "no lab $id"
  [[ $side == a || $side == b ]] || usage
  ip netns list | grep -q "^$(ns "$id" "r$side")\b" || die "lab $id has no router $side"
  ns "$id" "r$side"
}

# A table of its own, so cutting and restoring never touch the NAT rules.
cmd_cut() {
  (($# == 3)) || usage
  local router
  router=$(lab_router "$1" "$2")
  case $3 in
    on)
      in_ns "$router" nft -f - <<EOF
table ip natlab_cut
delete table ip natlab_cut
add table ip natlab_cut
add chain ip natlab_cut forward { type filter hook forward priority filter - 10; }
add chain ip natlab_cut input { type filter hook input priority filter - 10; }
add chain ip natlab_cut output { type filter hook output priority filter - 10; }
add rule ip natlab_cut forward iifname "wan" drop
add rule ip natlab_cut forward oifname "wan" drop
add rule ip natlab_cut input iifname "wan" drop
add rule ip natlab_cut output oifname "wan" drop
EOF
      ;;
    off) in_ns "$router" nft delete table ip natlab_cut 2>/dev/null || true ;;
    *) usage ;;
  esac
}

cmd_flush() {
  (($# == 2)) || usage
  local router
  router=$(lab_router "$1" "$2")
  in_ns "$router" conntrack -F >/dev/null 2>&1
}

# Like --loss, in a table of its own so that the NAT rules and their
# mappings stay: an established path keeps working, only lossier.
cmd_loss() {
  (($# == 3)) || usage
  local router
  router=$(lab_router "$1" "$2")
  LOSS=$3
  parse_loss || die "loss takes a percentage with at most one decimal, 0 to 100"
  if ((LOSS_PER_MILLE == 0)); then
    in_ns "$router" nft delete table ip natlab_loss 2>/dev/null || true
    return
  fi
  in_ns "$router" nft -f - <<EOF
table ip natlab_loss
delete table ip natlab_loss
add table ip natlab_loss
add chain ip natlab_loss forward { type filter hook forward priority filter - 5; }
add rule ip natlab_loss forward numgen random mod 1000 < $LOSS_PER_MILLE drop
EOF
}

# Whether process $1 runs. A zombie does not: a daemon restarted by an
# earlier command has init for a parent, which may take its time to reap.
running() {
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $state && $state != Z ]]
}

# Ends a server process by the pid it recorded (TERM, then KILL after a
# second) and waits until nothing of it listens any more.
stop_service() {
  local name=$1 proto=$2 address=$3 pid tries=0
  pid=$(<"$STATE/$name.pid")
  kill "$pid" 2>/dev/null || true
  while running "$pid"; do
    ((++tries != 20)) || kill -KILL "$pid" 2>/dev/null || true
    ((tries < 100)) || die "$name (pid $pid) did not end"
    sleep 0.05
  done
  tries=0
  while in_ns "$SRV" ss -Hln"$proto" "src $address" | grep -q .; do
    ((++tries < 100)) || die "something still listens on $address in $SRV"
    sleep 0.05
  done
}

cmd_service() {
  (($# == 3)) || usage
  ID=$1
  STATE=$STATE_ROOT/$ID
  [[ -f $STATE/env ]] || die "no lab $ID"
  SRV=$(ns "$ID" srv)
  TURN_SECRET=$(sed -n 's/^NATLAB_TURN_SECRET=//p' "$STATE/env")
  local service=$2 action=$3
  [[ $service == rendezvous || $service == turn ]] || usage
  [[ $action == stop || $action == start || $action == restart ]] || usage
  if [[ $action != start ]]; then
    if [[ $service == rendezvous ]]; then
      stop_service rendezvous t "$SRV_IP:$RENDEZVOUS_PORT"
    else
      stop_service coturn u "$SRV_IP:$STUN_PORT"
    fi
  fi
  if [[ $action != stop ]]; then
    if [[ $service == rendezvous ]]; then start_rendezvous; else start_coturn; fi
  fi
}

cmd_exec() {
  (($# >= 3)) || usage
  local id=$1 role=$2
  shift 2
  ip netns list | grep -q "^$(ns "$id" "$role")\b" || die "no namespace $role in lab $id"
  exec ip netns exec "$(ns "$id" "$role")" "$@"
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  nat) shift; cmd_nat "$@" ;;
  exec) shift; cmd_exec "$@" ;;
  cut) shift; cmd_cut "$@" ;;
  flush) shift; cmd_flush "$@" ;;
  loss) shift; cmd_loss "$@" ;;
  service) shift; cmd_service "$@" ;;
  down) (($# == 2)) || usage; check_tools; down "$2" ;;
  list) ls "$STATE_ROOT" 2>/dev/null || true ;;
  *) usage ;;
esac
