#!/usr/bin/env bash
# Two emulated hosts on this machine, for tests of multi-host launches:
#   emulated_hosts.sh up          prints "NAME SUBNET": hosts NAMEa and NAMEb, each a network namespace of
#                                 that name with one veth cable (10.231.N.2 and .3) to a bridge NAME, which
#                                 holds 10.231.N.1 for mpirun on this side
#   emulated_hosts.sh down NAME   kills whatever still runs on the hosts and removes all of it
#   emulated_hosts.sh cut HOST    pulls HOST's cable: nothing it sends from now on arrives
# The bridge's name is the lock: creating it fails while another run holds the same N, so parallel runs get
# their own names and subnets. Needs root, iproute2 and unshare; `up` exits 77 (skip) saying why otherwise.
set -u
skip() { echo "SKIP: $*" >&2; exit 77; }

down() {
  local name=$1 host
  for host in a b; do
    # A namespace with processes in it outlives `ip netns del`; end them first.
    ip netns pids "$name$host" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$name$host" 2>/dev/null
    ip link del "$name$host" 2>/dev/null
  done
  ip link del "$name" 2>/dev/null
  return 0
}

up() {
  [ "$(id -u)" -eq 0 ] || skip "emulating hosts needs root (network namespaces)"
  command -v ip >/dev/null || skip "no ip command (iproute2)"
  command -v unshare >/dev/null || skip "no unshare command (util-linux)"
  unshare --uts true 2>/dev/null || skip "unshare --uts fails here"
  local n name="" error
  for _ in $(seq 1 40); do
    n=$(((RANDOM % 250) + 1))
    ip route show | grep -q "^10\.231\.$n\." && continue  # a subnet someone else routes
    if error=$(ip link add "tsmh$n" type bridge 2>&1); then name="tsmh$n"; break; fi
  done
  [ -n "$name" ] || skip "cannot create a bridge: ${error:-every name taken}"
  # Any step failing means namespaces cannot be made here: undo and skip.
  step() { error=$("$@" 2>&1) || { down "$name"; skip "'$*' failed: $error"; }; }
  step ip addr add "10.231.$n.1/24" dev "$name"
  step ip link set "$name" up
  local host address=2
  for host in a b; do
    step ip netns add "$name$host"
    step ip link add "$name$host" type veth peer name "$name${host}1" netns "$name$host"
    step ip link set "$name$host" master "$name" up
    step ip -n "$name$host" addr add "10.231.$n.$address/24" dev "$name${host}1"
    step ip -n "$name$host" link set "$name${host}1" up
    step ip -n "$name$host" link set lo up
    address=$((address + 1))
  done
  echo "$name 10.231.$n.0/24"
}

case "${1:-}" in
  up) up ;;
  down) down "$2" ;;
  cut) ip link set "$2" down ;;
  *) echo "usage: $0 up | down NAME | cut HOST" >&2; exit 2 ;;
esac
