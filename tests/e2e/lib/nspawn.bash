# nspawn.bash - a real systemd, booted in systemd-nspawn over a private copy of the cached
# Debian 12 root, for the services tests (sourced after expect.sh).
#
#   nspawn_setup                 # makes $NS_DIR/{root,flake}; exits 77 with the reason when this
#                                # machine cannot run a container (not root, no systemd-nspawn,
#                                # no Debian root); installs an EXIT trap that always stops it
#   nspawn_boot                  # boots the root (bounded wait for "running"); exits 77 when it
#                                # never comes up, with the container's console output
#   nsx CMD...                   # runs CMD inside the booted container (nsenter into its init)
#   nspawn_wait WHAT SECS CMD... # retries CMD inside until it succeeds, fails the test after SECS
#   nspawn_stop                  # SIGTERM to nspawn (the container shuts down), bounded wait
#   nspawn_reboot                # `systemctl reboot` inside, then boots the same root again:
#                                # /run is a new tmpfs, as after a real reboot
#   fl_in ARGS...                # flakectl inside, capturing $out/$err/$rc as run_fl does
#   ns_box_flake                 # $NS_DIR/flake/flake.nix: one nixos host "box" from ./host.nix
#   ns_switch WHAT [ARGS...]     # switches host "box" from /flake; exit 0 expected
#   ns_host <<EOF ... EOF        # $NS_DIR/flake/host.nix: box's module, its hostName and the
#                                # attributes read from stdin
#   unit_active U / unit_prop P U / unit_pid U   # systemctl is-active / show -p P / MainPID
#
# The container runs flakectl from the build tree (bind-mounted read-only at
# /usr/local/bin/flakectl); shared libraries the root lacks (an ASan build's runtime) are
# bind-mounted beside it. The flake directory is $NS_DIR/flake, /flake inside.
NS_BOOT_TIMEOUT=${NS_BOOT_TIMEOUT:-30}

nspawn_setup() {
    [ "$(id -u)" -eq 0 ] || { echo "SKIP: booting a container needs root" >&2; exit 77; }
    command -v systemd-nspawn >/dev/null ||
        { echo "SKIP: systemd-nspawn is not installed (scripts/install-deps.sh: systemd-container)" >&2; exit 77; }
    command -v nsenter >/dev/null || { echo "SKIP: nsenter is not installed" >&2; exit 77; }
    NS_DIR=$(mktemp -d /var/tmp/flakectl-ns.XXXXXX)
    NS_NAME=flt$$
    NS_PID=
    NS_INIT=
    trap 'nspawn_stop; rm -rf "$NS_DIR"' EXIT
    source "$FLAKECTL_SRC/tests/e2e/lib/debian-root.bash"
    debian_root_copy "$NS_DIR/root"
    mkdir -p "$NS_DIR/flake"
    NS_BINDS=(--bind-ro="$FLAKECTL:/usr/local/bin/flakectl" --bind="$NS_DIR/flake:/flake")
    local lib
    for lib in $(ldd "$FLAKECTL" | awk '/=> \//{print $3}'); do
        [ -e "$NS_DIR/root$lib" ] || NS_BINDS+=(--bind-ro="$lib:$lib")
    done
}

# The cgroup directories of this container, one per mounted hierarchy. With --keep-unit the
# container's systemd manages the cgroup nspawn starts in: without a directory of its own, two
# containers booted at once (ctest -j2) would both manage /system.slice/... and kill each
# other's services.
ns_cgroups() {
    if [ -f /sys/fs/cgroup/cgroup.procs ]; then
        echo "/sys/fs/cgroup/$NS_CG"
    else
        local h
        for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
            [ -f "$h/cgroup.procs" ] && echo "$h/$NS_CG"
        done
    fi
}

nspawn_boot() {
    local t0 t1 state= cg
    t0=$(date +%s%N)
    NS_CG=flakectl-ns-$$-$RANDOM
    for cg in $(ns_cgroups); do mkdir -p "$cg"; done
    (
        for cg in $(ns_cgroups); do echo "$BASHPID" >"$cg/cgroup.procs" 2>/dev/null || true; done
        exec systemd-nspawn -D "$NS_DIR/root" -M "$NS_NAME" --register=no --keep-unit --boot \
            --console=passive --private-network "${NS_BINDS[@]}" >>"$NS_DIR/console.log" 2>&1
    ) &
    NS_PID=$!
    local deadline=$((SECONDS + NS_BOOT_TIMEOUT))
    while [ $SECONDS -lt $deadline ]; do
        if ! kill -0 "$NS_PID" 2>/dev/null; then
            cat "$NS_DIR/console.log" >&2
            echo "SKIP: the container exited while booting (this machine cannot run systemd-nspawn --boot)" >&2
            NS_PID=
            exit 77
        fi
        NS_INIT=$(ps --ppid "$NS_PID" -o pid= 2>/dev/null | tr -d ' ' | head -n1 || true)
        if [ -n "$NS_INIT" ]; then
            state=$(nsenter -t "$NS_INIT" -a systemctl is-system-running 2>/dev/null || true)
            case "$state" in running | degraded) break ;; esac
        fi
        sleep 0.05
    done
    case "$state" in
    running | degraded) ;;
    *)
        cat "$NS_DIR/console.log" >&2
        echo "SKIP: the container did not finish booting in ${NS_BOOT_TIMEOUT}s (state '$state')" >&2
        exit 77
        ;;
    esac
    t1=$(date +%s%N)
    NS_BOOT_MS=$(((t1 - t0) / 1000000))
    echo "container booted in ${NS_BOOT_MS} ms ($state)" >&2
}

nsx() { nsenter -t "$NS_INIT" -a "$@"; }

nspawn_wait() {
    local what=$1 secs=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until nsx "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || fail "$what: not true after ${secs}s ($*)"
        sleep 0.1
    done
}

# ns_file_is WHAT FILE VALUE [SECS]: FILE inside holds VALUE within SECS (30). A simple
# service is "active" once forked, before its script has written anything, so what a service
# writes is waited for, never read once right after a switch (on a loaded machine that read
# comes first).
ns_file_is() {
    local what=$1 file=$2 want=$3 deadline=$((SECONDS + ${4:-30})) got
    until got=$(nsx cat "$file" 2>/dev/null) && [ "$got" = "$want" ]; do
        [ $SECONDS -lt $deadline ] || fail "$what: expected [$want] in $file, got [$got]"
        sleep 0.1
    done
}

nspawn_stop() {
    [ -n "${NS_PID:-}" ] || return 0
    kill -TERM "$NS_PID" 2>/dev/null || true
    local i
    for i in $(seq 100); do
        kill -0 "$NS_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$NS_PID" 2>/dev/null || true
    wait "$NS_PID" 2>/dev/null || true
    NS_PID=
    NS_INIT=
    local cg
    for cg in $(ns_cgroups); do
        [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    return 0
}

nspawn_reboot() {
    nsx systemctl reboot || true
    local i
    for i in $(seq 200); do
        kill -0 "$NS_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$NS_PID" 2>/dev/null && fail "the container did not shut down for the reboot in 20s"
    wait "$NS_PID" 2>/dev/null || true
    nspawn_stop
    nspawn_boot
}

fl_in() {
    local o e
    o=$(mktemp) e=$(mktemp)
    rc=0
    nsx flakectl "$@" >"$o" 2>"$e" || rc=$?
    out=$(cat "$o") err=$(cat "$e")
    rm -f "$o" "$e"
}

ns_box_flake() {
    cat >"$NS_DIR/flake/flake.nix" <<'EOF'
{
  outputs = { self, ... }: {
    hosts.box = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./host.nix ]; };
  };
}
EOF
}

ns_host() {
    {
        echo '{ ... }: {'
        echo '  networking.hostName = "box";'
        cat
        echo '}'
    } >"$NS_DIR/flake/host.nix"
}

unit_active() { nsx systemctl is-active "$1" 2>/dev/null || true; }
unit_prop() { nsx systemctl show -p "$1" --value "$2"; }
unit_pid() { unit_prop MainPID "$1"; }

# ns_switch WHAT [ARGS...]: `flakectl --flake /flake switch --host box ARGS` inside, which must
# exit 0 (its output is shown when it does not); $out/$err/$rc as fl_in.
ns_switch() {
    local what=$1
    shift
    fl_in --flake /flake switch --host box "$@"
    [ "$rc" = 0 ] || echo "$out$err" >&2
    expect_eq "$what exit" 0 "$rc"
}
