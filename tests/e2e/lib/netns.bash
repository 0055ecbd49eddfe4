# netns.bash - simulated hosts on one machine (needs root and iproute2): each host is a
# network namespace with its own address on a private bridge, so N targets are N machines
# to the deployer (their own 127.0.0.1, their own port 22, traffic through a veth each).
# Sourced after deploy.sh, whose targets then get their own store, root and state as usual.
#
#   netns_setup             # the bridge on a free 10.X.Y.0/24 (NETNS_NET), its .1 here
#   netns_add IDX           # namespace IDX (1..250) at $NETNS_NET.(IDX+1), named $NETNS_NS
#   netns_target_start NAME IDX  # netns_add, then an sshd on port 22 inside, started
#                                # through deploy_target_start
#   netns_tx_bytes          # bytes this namespace (the deployer) sent into the bridge so far:
#                           # what the hosts talk among themselves is not counted
#   netns_cleanup           # stops every process in the hosts' namespaces, deletes them
#                           # and the bridge (call it from the EXIT trap)
#   netns_fleet_setup       # deploy_setup, the bridge, and a binary cache on a machine of its
#                           # own (namespace 250: nginx serving $DEPLOY_WORK/srv at NGINX_URL),
#                           # so that the bridge counts only the deployer; the EXIT trap
#                           # removes all of it
#   netns_fleet_host NAME IDX V TAGS  # netns_target_start; NAME's module puts the flake's
#                           # file V at /etc/v and ./blob at /etc/blob; appends the host to
#                           # NETNS_SPECS (for deploy_write_flake) with TAGS
source "$(dirname "${BASH_SOURCE[0]}")/nginx-serve.bash"
NETNS_SPECS=()
NETNS_PREFIX="" NETNS_BRIDGE="" NETNS_NET="" NETNS_LIST=()

netns_setup() {
    command -v ip >/dev/null || { echo "ip (iproute2) is not installed" >&2; return 77; }
    local tag try
    tag=$(printf '%04x' $((RANDOM % 65536)))
    NETNS_PREFIX=fl$tag # interface names stay under 15 characters: fl1a2bv123
    NETNS_BRIDGE=${NETNS_PREFIX}br
    for try in $(seq 1 50); do
        NETNS_NET=10.$((RANDOM % 200 + 50)).$((RANDOM % 250 + 1))
        ip -4 route show | grep -q "^$NETNS_NET\." || break
    done
    ip link add "$NETNS_BRIDGE" type bridge || { echo "cannot make a bridge (not root?)" >&2; return 77; }
    ip addr add "$NETNS_NET.1/24" dev "$NETNS_BRIDGE"
    ip link set "$NETNS_BRIDGE" up
}

netns_add() { # IDX
    local idx=$1 ns=${NETNS_PREFIX}-$1 veth=${NETNS_PREFIX}v$1
    ip netns add "$ns" || return 1
    NETNS_LIST+=("$ns")
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip link set "$veth" master "$NETNS_BRIDGE" up
    ip netns exec "$ns" ip addr add "$NETNS_NET.$((idx + 1))/24" dev eth0
    ip netns exec "$ns" ip link set eth0 up
    ip netns exec "$ns" ip link set lo up
    NETNS_NS=$ns
}

netns_target_start() { # NAME IDX
    local name=$1 idx=$2
    netns_add "$idx" || return 1
    DEPLOY_NETNS=$NETNS_NS SSHD_LISTEN=$NETNS_NET.$((idx + 1)) SSHD_FIXED_PORT=22 \
        deploy_target_start "$name"
}

netns_tx_bytes() {
    cat "/sys/class/net/$NETNS_BRIDGE/statistics/tx_bytes"
}

netns_cleanup() {
    local ns pids
    for ns in "${NETNS_LIST[@]}"; do
        # whatever still runs in there was started by this test (sshd sessions, watchdogs)
        pids=$(ip netns pids "$ns" 2>/dev/null)
        [ -z "$pids" ] || kill $pids 2>/dev/null
    done
    for ns in "${NETNS_LIST[@]}"; do
        pids=$(ip netns pids "$ns" 2>/dev/null)
        [ -z "$pids" ] || { sleep 0.2; kill -9 $pids 2>/dev/null; }
        ip netns del "$ns" 2>/dev/null # takes its end of the veth, and so the other end
    done
    NETNS_LIST=()
    [ -z "$NETNS_BRIDGE" ] || ip link del "$NETNS_BRIDGE" 2>/dev/null
    NETNS_BRIDGE=""
    return 0
}

netns_fleet_setup() {
    deploy_setup
    trap 'set +e; nginx_serve_stop; sshd_stop_all; netns_cleanup; rm -rf "$DEPLOY_WORK" 2>/dev/null; true' EXIT
    netns_setup || exit $?
    chmod 755 "$DEPLOY_WORK" # nginx's worker reads the cache as another user
    mkdir -p "$DEPLOY_WORK/srv"
    netns_add 250
    NGINX_NETNS=$NETNS_NS nginx_serve "$DEPLOY_WORK/srv" "$NETNS_NET.251" || exit $?
}

netns_fleet_host() { # NAME IDX V TAGS
    netns_target_start "$1" "$2" >/dev/null || return 1
    NETNS_SPECS+=("$1 $SSHD_TARGET $4")
    cat >"$DEPLOY_FLAKE/$1.nix" <<EOF
{ ... }: {
  networking.hostName = "$1";
  environment.etc."v".text = builtins.readFile ./$3;
  environment.etc."blob".source = ./blob;
}
EOF
}
