# sshd.sh - a real OpenSSH sshd on 127.0.0.1 for remote tests (sourced, never run by ctest).
#
#   source "$FLAKECTL_SRC/tests/e2e/lib/sshd.sh"
#   sshd_start [NAME]        # starts one; sets SSHD_DIR SSHD_PORT SSHD_PID SSHD_TARGET
#   sshd_info NAME port|dir|pid|target|hostpub
#   sshd_stop [NAME]         # stops exactly the pid it started
#   sshd_work                # the client's side: $work (a temp dir), HOME=$work/home (empty),
#                            # no ssh-agent; the EXIT trap stops every instance, removes $work
#
# Every instance has its own temp dir with an ed25519 host key, sshd_config, authorized_keys
# and PidFile. One client key pair is shared by all instances: $SSHD_CLIENT_KEY. Variables
# read by sshd_start (all optional):
#   SSHD_ENV            "K=V K2=V2": SetEnv for every session (FLAKECTL_ROOT, FLAKECTL_STATE_DIR)
#   SSHD_PATH_PREPEND   directories put in front of the sessions' PATH (where flakectl is)
#   SSHD_EXTRA_CONFIG   extra sshd_config lines (put first, so they override the defaults)
#   SSHD_HOSTKEY_TYPES  host key types to generate (default "ed25519")
#   SSHD_FIXED_PORT     listen on this port instead of a free random one (restarting an
#                       instance where clients expect it)
#   SSHD_LISTEN         the address to listen on (default 127.0.0.1; "::1" for IPv6)
#   SSHD_NEW_HOSTKEY=1  make new host keys even if NAME has some (a "reinstalled" host);
#                       by default a restarted NAME keeps its keys
# Sessions get HOME=$SSHD_DIR/home (an empty dir): the target side never reads the real
# ~root (whose shell start-up files would also slow every command down).
# Also usable as a program, for C tests and benchmarks:
#   bash sshd.sh start DIR   -> starts one detached, writes DIR/port and DIR/sshd.pid, prints port
#   bash sshd.sh stop DIR    -> stops it
# A trap on EXIT stops every instance this shell started (call sshd_stop_all from your own
# EXIT trap if you install one). Safe under set -e.

SSHD_BIN=${SSHD_BIN:-/usr/sbin/sshd}
SSHD_BASE=${SSHD_BASE:-}
SSHD_INSTANCES=()
SSHD_CLEANUP=() # commands sshd_stop_all runs after the instances are gone

# sudo_test_users: three logins of this run only - SUDO_U (sudo with a password), NOPW_U
# (sudo without one), NOSUDO_U (no sudo) - with the password "correct horse battery", and a
# sudoers drop-in naming them. sshd_stop_all (every EXIT trap here calls it) removes them
# again: no user or sudoers file outlives the test, and parallel tests never share one.
sudo_test_users() {
    SUDO_U=flt-sudo-$$ NOPW_U=flt-nopw-$$ NOSUDO_U=flt-nosudo-$$
    local u f=/etc/sudoers.d/flakectl-test-$$
    for u in "$SUDO_U" "$NOPW_U" "$NOSUDO_U"; do
        useradd -M -d / -s /bin/sh "$u" || return 1
        SSHD_CLEANUP+=("userdel -f $u")
        echo "$u:correct horse battery" | chpasswd || return 1
    done
    # a name with a dot is one sudo skips: the drop-in is written there first
    printf '%s\n' "$SUDO_U ALL=(ALL:ALL) ALL" "$NOPW_U ALL=(ALL:ALL) NOPASSWD: ALL" >"$f.tmp"
    SSHD_CLEANUP+=("rm -f $f $f.tmp")
    chmod 0440 "$f.tmp" && visudo -cf "$f.tmp" >/dev/null && mv "$f.tmp" "$f"
}

_sshd_base() {
    if [ -z "$SSHD_BASE" ]; then
        SSHD_BASE=$(mktemp -d "${TMPDIR:-/tmp}/flakectl-sshd.XXXXXX")
        SSHD_OWN_BASE=1
    fi
    if [ ! -f "$SSHD_BASE/client_ed25519" ]; then
        ssh-keygen -q -t ed25519 -N '' -C flakectl-test-client -f "$SSHD_BASE/client_ed25519"
    fi
    SSHD_CLIENT_KEY=$SSHD_BASE/client_ed25519
    # privilege separation needs its empty directory; it is normally made by the init script
    [ -d /run/sshd ] || mkdir -p -m 0755 /run/sshd
}

_sshd_accepts() { # port: true once the server sends its SSH banner
    local banner
    banner=$(timeout 2 bash -c "exec 3<>/dev/tcp/${SSHD_LISTEN:-127.0.0.1}/$1 && head -c 4 <&3" 2>/dev/null) \
        && [ "$banner" = "SSH-" ]
}

sshd_start() {
    local name=${1:-default} dir port pid try t
    _sshd_base
    dir=$SSHD_BASE/$name
    mkdir -p "$dir"
    [ "${SSHD_NEW_HOSTKEY:-0}" != 1 ] || rm -f "$dir"/ssh_host_*
    for t in ${SSHD_HOSTKEY_TYPES:-ed25519}; do
        [ -f "$dir/ssh_host_${t}_key" ] \
            || ssh-keygen -q -t "$t" -N '' -C "host-$name" -f "$dir/ssh_host_${t}_key"
    done
    cat "$SSHD_CLIENT_KEY.pub" >"$dir/authorized_keys"
    mkdir -p "$dir/home"
    for try in $(seq 1 20); do
        port=${SSHD_FIXED_PORT:-$((20000 + (RANDOM * 32768 + RANDOM) % 40000))}
        {
            # sshd keeps the first value of a keyword: extra lines go first to override
            [ -z "${SSHD_EXTRA_CONFIG:-}" ] || printf '%s\n' "$SSHD_EXTRA_CONFIG"
            echo "Port $port"
            echo "ListenAddress ${SSHD_LISTEN:-127.0.0.1}"
            for t in ${SSHD_HOSTKEY_TYPES:-ed25519}; do echo "HostKey $dir/ssh_host_${t}_key"; done
            echo "PidFile $dir/sshd.pid"
            echo "AuthorizedKeysFile $dir/authorized_keys"
            echo "StrictModes no"
            echo "UsePAM no"
            echo "PermitRootLogin yes"
            echo "PasswordAuthentication no"
            echo "KbdInteractiveAuthentication no"
            echo "PubkeyAuthentication yes"
            echo "LogLevel VERBOSE"
            local env="PATH=${SSHD_PATH_PREPEND:+$SSHD_PATH_PREPEND:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            echo "SetEnv HOME=$dir/home $env ${SSHD_ENV:-}"
        } >"$dir/sshd_config"
        "$SSHD_BIN" -t -f "$dir/sshd_config" || { echo "sshd_config rejected" >&2; return 1; }
        rm -f "$dir/sshd.pid"
        "$SSHD_BIN" -D -e -f "$dir/sshd_config" </dev/null >/dev/null 2>>"$dir/sshd.log" &
        pid=$!
        for t in $(seq 1 100); do
            if ! kill -0 "$pid" 2>/dev/null; then break; fi
            if _sshd_accepts "$port"; then
                echo "$port" >"$dir/port"
                echo "$pid" >"$dir/pid"
                case " ${SSHD_INSTANCES[*]} " in *" $name "*) ;; *) SSHD_INSTANCES+=("$name") ;; esac
                SSHD_NAME=$name SSHD_DIR=$dir SSHD_PORT=$port SSHD_PID=$pid
                case ${SSHD_LISTEN:-127.0.0.1} in
                    *:*) SSHD_TARGET="root@[$SSHD_LISTEN]:$port" ;;
                    *) SSHD_TARGET=root@${SSHD_LISTEN:-127.0.0.1}:$port ;;
                esac
                echo "$SSHD_TARGET" >"$dir/target"
                SSHD_HOSTPUB=$dir/ssh_host_ed25519_key.pub
                return 0
            fi
            sleep 0.05
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        # a taken port makes sshd exit at once: try another; anything else is fatal
        [ -z "${SSHD_FIXED_PORT:-}" ] || break
        grep -q 'Address already in use\|Bind to port' "$dir/sshd.log" || break
    done
    echo "sshd did not start; its log:" >&2
    cat "$dir/sshd.log" >&2
    return 1
}

sshd_info() { # NAME FIELD
    local dir=$SSHD_BASE/$1
    case $2 in
        port) cat "$dir/port" ;;
        dir) echo "$dir" ;;
        pid) cat "$dir/pid" ;;
        target) cat "$dir/target" ;;
        hostpub) echo "$dir/ssh_host_ed25519_key.pub" ;;
        *) return 1 ;;
    esac
}

sshd_stop() {
    local name=${1:-default} dir pid
    dir=$SSHD_BASE/$name
    [ -f "$dir/pid" ] || return 0
    pid=$(cat "$dir/pid")
    # kill only the pid we started (the listener; its session children die with their
    # connections)
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
}

sshd_work() {
    work=$(mktemp -d)
    trap 'sshd_stop_all; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
    export HOME=$work/home
    mkdir -p "$HOME"
    unset SSH_AUTH_SOCK
}

sshd_stop_all() {
    local n
    for n in "${SSHD_INSTANCES[@]}"; do sshd_stop "$n"; done
    SSHD_INSTANCES=()
    for n in "${SSHD_CLEANUP[@]}"; do eval "$n" >/dev/null 2>&1; done
    SSHD_CLEANUP=()
    if [ "${SSHD_OWN_BASE:-0}" = 1 ] && [ -n "$SSHD_BASE" ]; then rm -rf "$SSHD_BASE"; fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    # program mode: start/stop a detached instance whose files live in DIR
    set -u
    case "${1:-}" in
        start)
            SSHD_BASE=$(cd "$2" && pwd)
            sshd_start srv >/dev/null || exit 1
            cp "$SSHD_BASE/srv/port" "$SSHD_BASE/port"
            cp "$SSHD_BASE/srv/pid" "$SSHD_BASE/sshd.pid"
            echo "$SSHD_PORT"
            exit 0
            ;;
        stop)
            SSHD_BASE=$(cd "$2" && pwd)
            sshd_stop srv
            exit 0
            ;;
        *)
            echo "usage: sshd.sh start|stop DIR" >&2
            exit 2
            ;;
    esac
else
    trap sshd_stop_all EXIT
fi
