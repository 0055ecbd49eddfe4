# deploy.sh - targets for deployment tests (sourced after expect.sh).
#
# Store paths contain the store directory, so a target must keep its store at the same
# absolute path as the builder. To make every target a *distinct* store on this one machine,
# each target's sshd runs in its own mount namespace (`unshare -m`, needs root) in which the
# builder's state directory is covered by a bind mount of the target's own state directory.
# Everything the target does over SSH (import, activate, the rollback watchdog) sees only its
# own store; the test reads a target's files directly under $DEPLOY_WORK/targets/NAME.
#
#   deploy_setup                 # DEPLOY_WORK, DEPLOY_STATE (the builder's), HOME, flake dir
#   deploy_target_start NAME     # starts the target; sets SSHD_TARGET, SSHD_PORT ...
#                                # (DEPLOY_TARGET_PATH: directories put before flakectl's on
#                                # the target's PATH, e.g. a wrapper named flakectl)
#   deploy_flake_host NAME FILE  # hosts entry helper: see deploy_write_flake
#   fl_deploy ARGS...            # run_fl with the builder's flake/state and the client key
#   target_run NAME CMD...       # CMD as the target sees the machine (its state, its netns)
#   deploy_commit MSG            # commits the flake, prints the revision
#   deploy_setup_cache           # deploy_setup, and nginx serving $DEPLOY_WORK/srv (a binary
#                                # cache for the targets: $NGINX_URL, $NGINX_LOG); the caller
#                                # sources nginx-serve.bash; exits 77 without nginx
#   deploy_fleet TAG NAME...     # a fleet: a target per NAME (its module sets the hostName and
#                                # /etc/greeting "hello NAME"), tagged TAG and its own name, and
#                                # host a0 on a port nothing listens on (tagged TAG and
#                                # "broken"; sorted first); writes the flake
source "$FLAKECTL_SRC/tests/e2e/lib/sshd.sh"

deploy_setup() {
    DEPLOY_WORK=$(mktemp -d)
    DEPLOY_STATE=$DEPLOY_WORK/state
    DEPLOY_FLAKE=$DEPLOY_WORK/flake
    mkdir -p "$DEPLOY_STATE" "$DEPLOY_FLAKE" "$DEPLOY_WORK/home" "$DEPLOY_WORK/targets" "$DEPLOY_WORK/localroot"
    export HOME=$DEPLOY_WORK/home XDG_CACHE_HOME=$DEPLOY_WORK/cache
    unset SSH_AUTH_SOCK
    cat >"$DEPLOY_WORK/sshd-ns" <<'EOS'
#!/bin/sh
# sshd in its own mount namespace where DEPLOY_NS_DST shows DEPLOY_NS_SRC, and in the network
# namespace DEPLOY_NETNS when set (netns.bash); the pid stays the same through every exec, so
# the harness stops exactly this sshd
exec ${DEPLOY_NETNS:+ip netns exec "$DEPLOY_NETNS"} unshare -m --propagation private /bin/sh -c \
    'mount --bind "$DEPLOY_NS_SRC" "$DEPLOY_NS_DST" && exec /usr/sbin/sshd "$@"' sh "$@"
EOS
    chmod +x "$DEPLOY_WORK/sshd-ns"
    trap 'sshd_stop_all; rm -rf "$DEPLOY_WORK" 2>/dev/null; true' EXIT
}

deploy_target_start() { # NAME
    local t=$DEPLOY_WORK/targets/$1
    mkdir -p "$t/state" "$t/root"
    DEPLOY_NS_SRC=$t/state DEPLOY_NS_DST=$DEPLOY_STATE SSHD_BIN=$DEPLOY_WORK/sshd-ns \
        SSHD_ENV="FLAKECTL_STATE_DIR=$DEPLOY_STATE FLAKECTL_ROOT=$t/root XDG_CACHE_HOME=$t/cache" \
        SSHD_PATH_PREPEND=${DEPLOY_TARGET_PATH:+$DEPLOY_TARGET_PATH:}$(dirname "$FLAKECTL") \
        sshd_start "$1"
}

# deploy_commit MSG: commits everything in the flake (a Git repository: `git init` it
# first) and prints the new revision.
deploy_commit() {
    git -C "$DEPLOY_FLAKE" add -A
    git -C "$DEPLOY_FLAKE" -c user.name=t -c user.email=t@t commit -qm "$1"
    git -C "$DEPLOY_FLAKE" rev-parse HEAD
}

# target_run NAME CMD...: CMD as target NAME sees the machine (its own state directory where
# the builder's is; in the network namespace DEPLOY_NETNS when set): what the target runs
# itself, e.g. its `flakectl pull`. Give flakectl --root "$DEPLOY_WORK/targets/NAME/root".
target_run() {
    local t=$DEPLOY_WORK/targets/$1
    shift
    DEPLOY_NS_SRC=$t/state DEPLOY_NS_DST=$DEPLOY_STATE ${DEPLOY_NETNS:+ip netns exec "$DEPLOY_NETNS"} \
        unshare -m --propagation private /bin/sh -c \
        'mount --bind "$DEPLOY_NS_SRC" "$DEPLOY_NS_DST" && exec "$@"' sh "$@"
}

# A target's generation links, as the target sees them.
target_default() { readlink "$DEPLOY_WORK/targets/$1/state/profiles/system" 2>/dev/null; }
target_current() { readlink "$DEPLOY_WORK/targets/$1/root/run/flakectl/current" 2>/dev/null; }

fl_deploy() {
    run_fl --flake "$DEPLOY_FLAKE" --state-dir "$DEPLOY_STATE" --root "$DEPLOY_WORK/localroot" "$@"
}

# deploy_write_flake "NAME TARGET TAGS" ...: a flake with one host per argument; each host's
# module is $DEPLOY_FLAKE/NAME.nix (write it yourself).
deploy_write_flake() {
    local spec name target tags
    {
        echo '{ outputs = { self, ... }: { hosts = {'
        for spec in "$@"; do
            read -r name target tags <<<"$spec"
            echo "  $name = { system = \"x86_64-linux\"; platform = \"nixos\"; modules = [ ./$name.nix ];"
            echo "    deploy = { targetHost = \"$target\"; tags = [ $tags ]; }; };"
        done
        echo '}; }; }'
    } >"$DEPLOY_FLAKE/flake.nix"
}

deploy_setup_cache() {
    deploy_setup
    trap 'nginx_serve_stop; sshd_stop_all; rm -rf "$DEPLOY_WORK" 2>/dev/null; true' EXIT
    chmod 755 "$DEPLOY_WORK"
    mkdir -p "$DEPLOY_WORK/srv"
    nginx_serve "$DEPLOY_WORK/srv" || exit $?
}

deploy_fleet() { # TAG NAME...
    local tag=$1 n deadport specs=()
    shift
    for n in "$@"; do
        deploy_target_start "$n" >/dev/null
        specs+=("$n $SSHD_TARGET \"$tag\" \"$n\"")
        echo "{ ... }: { networking.hostName = \"$n\"; environment.etc.\"greeting\".text = \"hello $n\n\"; }" >"$DEPLOY_FLAKE/$n.nix"
    done
    deadport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    specs+=("a0 root@127.0.0.1:$deadport \"$tag\" \"broken\"")
    echo '{ ... }: { networking.hostName = "a0"; }' >"$DEPLOY_FLAKE/a0.nix"
    deploy_write_flake "${specs[@]}"
}
