#!/usr/bin/env bash
# kill9.sh - the crash-safety figure of issue 20: kill -9 (the whole process group, as a
# power cut would stop everything) at a random moment of `switch`, `build`, `store add`,
# `rollback`, a package install (real apt in a copy of the cached Debian root),
# `cache push --to file://` and `store realise` from a cache (file:// and HTTP), then check
# the state a user would meet next:
#   - `store verify --check-contents` passes (without --repair),
#   - every generation link, the default and /run/flakectl/current resolve to a toplevel
#     whose profile.json exists,
#   - the next operation of the same kind succeeds,
#   - packages: no mount left in the root, and after the next switch `dpkg --audit` is
#     clean, the declared set is installed, the dropped set removed, owned.json says so;
#   - cache push: `cache verify` passes right after the kill (so no .narinfo names a NAR
#     that is missing or incomplete, and no reference lacks its .narinfo), and again after
#     the next push, which leaves every pushed path with its .narinfo.
# Prints "N broken states in M kills" per kind and in total. Not a pass/fail test; bounded by
# KILLS (per kind, default 25; PKG_KILLS and PUSH_KILLS override it for those two kinds).
# KINDS picks kinds (default "switch build add rollback packages push substitute"); SUB_KILLS
# overrides KILLS for substitute. The packages kind
# needs root and the Debian root (tests/fixtures/debian-root.sh: made once, ~1 min; apt then
# fetches hello, jq, sl, figlet and cowsay once from the mirror); it says why when it skips.
# Usage: FLAKECTL=build/flakectl tests/bench/kill9.sh
set -uo pipefail
FLAKECTL=${FLAKECTL:-$(dirname "$0")/../../build/flakectl}
FLAKECTL=$(realpath "$FLAKECTL")
KILLS=${KILLS:-25}
PKG_KILLS=${PKG_KILLS:-$KILLS}
PUSH_KILLS=${PUSH_KILLS:-$KILLS}
KINDS=" ${KINDS:-switch build add rollback packages push substitute} "
want() { [[ "$KINDS" == *" $1 "* ]]; }
FLAKECTL_SRC=$(realpath "$(dirname "$0")/../..")
export FLAKECTL_SRC
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export XDG_CACHE_HOME=$T/cache
ROOT=$T/root STATE=$T/state F=$T/flake
mkdir -p "$ROOT" "$F" "$T/tree"
source "$(dirname "$0")/../e2e/lib/host-flake.bash"
host_flake "$F"
host() { # N
    cat >"$F/host.nix" <<EOF
{ pkgs, ... }: {
  networking.hostName = "h";
  environment.etc."round".text = "round $1\n";
  environment.etc."copied" = { text = "copy $1\n"; mode = "0644"; };
  users.users.u$(($1 % 3)) = { isNormalUser = true; };
  environment.systemPackages = [ (pkgs.writeShellScriptBin "tool$1" "echo $1") ];
  system.activationScripts.pause.text = "sleep 0.0\$((RANDOM % 3))";
}
EOF
}
fl() { "$FLAKECTL" --root "$ROOT" --state-dir "$STATE" --flake "$F" "$@"; }

# broken: prints why the state is broken, nothing when it is sound. A broken store is
# repaired afterwards, so that each kill is judged by what it did itself.
broken() {
    local l t
    if ! fl store verify --check-contents >"$T/verify" 2>&1; then
        echo "store verify: $(head -3 "$T/verify" | tr '\n' ' ')"
        fl store verify --repair >/dev/null 2>&1
        return
    fi
    for l in "$ROOT/run/flakectl/current" "$STATE/profiles/system" "$STATE"/profiles/system-*-link; do
        [ -L "$l" ] || continue
        t=$(readlink -f "$l")
        [ -n "$t" ] && [ -f "$t/profile.json" ] || { echo "$l points at a missing toplevel"; return; }
    done
}

# kill_at MAX CMD...: runs CMD in its own session, kills the group after a random delay of
# up to MAX seconds. KILL_ROOT set: every process running inside that directory (apt runs
# dpkg in a session of its own) dies at the same instant, as in a power cut.
kill_at() {
    # In a subshell whose stderr is /dev/null: bash's "Killed" notice of the job goes there.
    (kill_at_ "$@") 2>/dev/null
}
kill_at_() {
    local max=$1 p
    shift
    setsid "$@" >/dev/null 2>&1 &
    local pid=$!
    sleep "$(awk -v m="$max" -v r="$RANDOM" 'BEGIN { printf "%.3f", m * r / 32768 }')"
    kill -9 -- "-$pid" 2>/dev/null
    if [ -n "${KILL_ROOT:-}" ]; then
        for _ in 1 2 3; do
            for p in /proc/[0-9]*; do
                [ "$(readlink "$p/root" 2>/dev/null)" = "$KILL_ROOT" ] && kill -9 "${p#/proc/}" 2>/dev/null
            done
            sleep 0.1
        done
    fi
    wait "$pid"
}

# seconds CMD...: runs CMD (quietly) and prints how long it took; fails when CMD fails.
seconds() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >"$T/timed" 2>&1 || { cat "$T/timed" >&2; return 1; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

total_broken=0 total=0
report() { # KIND BROKEN KILLS
    printf '%-10s %d broken states in %d kills\n' "$1" "$2" "$3"
    total_broken=$((total_broken + $2))
    total=$((total + $3))
}

host 0
fl switch --host h >/dev/null 2>&1 || { echo "setup switch failed" >&2; exit 1; }

# switch: each round a new configuration; after the kill the same switch must complete.
if want switch; then
b=0
for i in $(seq 1 "$KILLS"); do
    host "$i"
    kill_at 1.2 "$FLAKECTL" --root "$ROOT" --state-dir "$STATE" --flake "$F" switch --host h
    why=$(broken)
    if [ -z "$why" ] && ! fl switch --host h >"$T/next" 2>&1; then why="the next switch failed: $(tail -2 "$T/next" | tr '\n' ' ')"; fi
    [ -z "$why" ] && [ "$(cat "$ROOT/etc/static/round" 2>/dev/null)" != "round $i" ] && why="the next switch left /etc at $(cat "$ROOT/etc/static/round" 2>&1)"
    [ -n "$why" ] && { b=$((b + 1)); echo "  switch $i: $why"; }
done
report switch "$b" "$KILLS"
fi

# build: a new configuration each round (its package is built too).
if want build; then
b=0
for i in $(seq 1 "$KILLS"); do
    host "$((1000 + i))"
    kill_at 0.8 "$FLAKECTL" --root "$ROOT" --state-dir "$STATE" --flake "$F" build --host h --no-link
    why=$(broken)
    [ -z "$why" ] && ! fl build --host h --no-link >"$T/next" 2>&1 && why="the next build failed: $(tail -2 "$T/next" | tr '\n' ' ')"
    [ -n "$why" ] && { b=$((b + 1)); echo "  build $i: $why"; }
done
report build "$b" "$KILLS"
fi

# store add: a tree of 300 files and 2 MiB, different each round.
if want add; then
for k in $(seq 1 300); do echo "file $k" >"$T/tree/f$k"; done
head -c $((2 * 1024 * 1024)) /dev/urandom >"$T/tree/big"
b=0
for i in $(seq 1 "$KILLS"); do
    echo "round $i" >"$T/tree/round"
    kill_at 0.3 "$FLAKECTL" --state-dir "$STATE" store add "$T/tree"
    why=$(broken)
    [ -z "$why" ] && ! fl store add "$T/tree" >"$T/next" 2>&1 && why="the next add failed: $(tail -2 "$T/next" | tr '\n' ' ')"
    [ -n "$why" ] && { b=$((b + 1)); echo "  store add $i: $why"; }
done
report "store add" "$b" "$KILLS"
fi

# rollback: back and forth between the last two generations (--to), killed each time.
if want rollback; then
last=$(ls "$STATE/profiles" | sed -n 's/^system-\([0-9]*\)-link$/\1/p' | sort -n | tail -1)
b=0
for i in $(seq 1 "$KILLS"); do
    to=$((last - i % 2))
    kill_at 0.6 "$FLAKECTL" --root "$ROOT" --state-dir "$STATE" rollback --to "$to"
    why=$(broken)
    [ -z "$why" ] && ! fl rollback --to "$to" >"$T/next" 2>&1 && why="the next rollback failed: $(tail -2 "$T/next" | tr '\n' ' ')"
    [ -z "$why" ] && [ "$(readlink "$STATE/profiles/system")" != "system-$to-link" ] && why="the next rollback left the default at $(readlink "$STATE/profiles/system")"
    [ -n "$why" ] && { b=$((b + 1)); echo "  rollback $i: $why"; }
done
report rollback "$b" "$KILLS"
fi

# packages: `switch` of a Debian root whose declared set alternates between A and B, so each
# round installs one set and removes the other (cowsay pulls in perl: a long dpkg window).
if want packages; then
    if [ "$(id -u)" != 0 ]; then
        echo "packages: skipped (needs root: apt runs in a chroot)"
    elif ! droot=$(bash "$FLAKECTL_SRC/tests/fixtures/debian-root.sh" 2>"$T/droot.err"); then
        echo "packages: skipped ($(tail -1 "$T/droot.err"))"
    else
        P=$T/pkg PR=$T/pkg/root PS=$T/pkg/state PF=$T/pkg/flake
        mkdir -p "$PR" "$PF"
        cp -a --reflink=auto "$droot/." "$PR/"
        rm -f "$PR/.flakectl-fixture-complete" "$PR/etc/hostname"
        echo '{ outputs = { self, ... }: { hosts.box = { system = "x86_64-linux"; modules = [ ./packages.nix ]; }; }; }' >"$PF/flake.nix"
        set_a="hello jq" set_b="sl figlet cowsay"
        declare_pkgs() { printf '{ pkgs, ... }: { environment.systemPackages = with pkgs; [ %s ]; }\n' "$1" >"$PF/packages.nix"; }
        pf() { "$FLAKECTL" --root "$PR" --state-dir "$PS" --flake "$PF" "$@"; }
        installed() { chroot "$PR" dpkg-query -W -f '${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null | awk '$2 == "ii" { print $1 }' | sort | tr '\n' ' '; }
        sorted() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort | tr '\n' ' '; }
        # Warm-up: both sets once (apt's archive cache then holds every .deb), timed.
        declare_pkgs "$set_b"
        pf switch --host box >"$T/p.out" 2>&1 || { cat "$T/p.out" >&2; echo "packages: setup switch failed" >&2; exit 1; }
        declare_pkgs "$set_a"
        da=$(seconds pf switch --host box) || exit 1
        declare_pkgs "$set_b"
        db=$(seconds pf switch --host box) || exit 1
        pmax=$(awk -v a="$da" -v b="$db" 'BEGIN { printf "%.2f", (a > b ? a : b) * 1.1 }')
        echo "packages: a switch takes ${da} s (to A) / ${db} s (to B); kills within ${pmax} s"
        b=0
        for i in $(seq 1 "$PKG_KILLS"); do
            if [ $((i % 2)) = 1 ]; then want_set=$set_a gone_set=$set_b; else want_set=$set_b gone_set=$set_a; fi
            declare_pkgs "$want_set"
            KILL_ROOT=$PR kill_at "$pmax" "$FLAKECTL" --root "$PR" --state-dir "$PS" --flake "$PF" switch --host box
            why=""
            if grep -q " $PR/" /proc/mounts; then
                why="mounts left in the root: $(grep -o " $PR/[^ ]*" /proc/mounts | tr '\n' ' ')"
                grep -o " $PR/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
            fi
            if [ -z "$why" ] && ! "$FLAKECTL" --state-dir "$PS" store verify --check-contents >"$T/verify" 2>&1; then
                why="store verify: $(head -3 "$T/verify" | tr '\n' ' ')"
            fi
            for l in "$PR/run/flakectl/current" "$PS/profiles/system" "$PS"/profiles/system-*-link; do
                [ -z "$why" ] && [ -L "$l" ] || continue
                t=$(readlink -f "$l")
                [ -n "$t" ] && [ -f "$t/profile.json" ] || why="$l points at a missing toplevel"
            done
            if [ -z "$why" ] && ! pf switch --host box >"$T/next" 2>&1; then
                why="the next switch failed: $(grep -i "error\|fail" "$T/next" | head -2 | tr '\n' ' ')"
            fi
            if [ -z "$why" ]; then
                audit=$(chroot "$PR" dpkg --audit 2>&1)
                got=$(installed $want_set $gone_set)
                owned=$(jq -r '.owned | keys | join(" ")' "$PS/packages/owned.json" 2>&1)
                if [ -n "$audit" ]; then why="dpkg --audit after the next switch: $(head -2 <<<"$audit" | tr '\n' ' ')"
                elif [ "$got" != "$(sorted "$want_set")" ]; then why="installed after the next switch: [$got], declared [$want_set]"
                elif [ "$(sorted "$owned")" != "$(sorted "$want_set")" ]; then why="owned.json after the next switch: [$owned], declared [$want_set]"
                fi
            fi
            [ -n "$why" ] && { b=$((b + 1)); echo "  packages $i: $why"; }
        done
        report packages "$b" "$PKG_KILLS"
        grep -q " $PR/" /proc/mounts && grep -o " $PR/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
    fi
fi

# cache push: four fresh paths of random bytes per round (8 MiB each with zstd, 1 MiB with the
# far slower xz) pushed to a file:// cache, zstd and xz in turn; the cache is never wiped, so each kill lands on a cache that
# earlier kills and pushes left behind.
if want push; then
    C=$T/cache-dir
    pub=$("$FLAKECTL" cache keygen kill9-1 -o "$T/cache.sec") || { echo "cache keygen failed" >&2; exit 1; }
    fresh_paths() { # ROUND MIB: prints 4 new store paths
        local k d
        for k in 1 2 3 4; do
            d=$T/push/r$1-$k
            mkdir -p "$d"
            head -c $(($2 * 1024 * 1024)) /dev/urandom >"$d/blob"
            echo "round $1 part $k" >"$d/name"
            "$FLAKECTL" --state-dir "$STATE" store add "$d" || return 1
        done
    }
    push() { # COMPRESSION PATHS...
        local c=$1
        shift
        "$FLAKECTL" --state-dir "$STATE" cache push --to "file://$C" --key "$T/cache.sec" --compression "$c" "$@"
    }
    cverify() { "$FLAKECTL" --state-dir "$STATE" cache verify "file://$C" --trusted-public-key "$pub"; }
    # Warm-up: the host's toplevel closure, then one timed push of each compression.
    top=$(fl build --host h --no-link 2>/dev/null | tail -1)
    push zstd "$top" >"$T/c.out" 2>&1 || { cat "$T/c.out" >&2; echo "push: setup push failed" >&2; exit 1; }
    mapfile -t ps < <(fresh_paths w1 8) || exit 1
    dz=$(seconds push zstd "${ps[@]}") || exit 1
    mapfile -t ps < <(fresh_paths w2 1) || exit 1
    dx=$(seconds push xz "${ps[@]}") || exit 1
    echo "push: 4 paths take ${dz} s (zstd, 8 MiB each) / ${dx} s (xz, 1 MiB each)"
    b=0
    for i in $(seq 1 "$PUSH_KILLS"); do
        if [ $((i % 2)) = 1 ]; then comp=zstd max=$dz mib=8; else comp=xz max=$dx mib=1; fi
        max=$(awk -v m="$max" 'BEGIN { printf "%.2f", m * 1.2 }')
        mapfile -t ps < <(fresh_paths "$i" "$mib")
        kill_at "$max" "$FLAKECTL" --state-dir "$STATE" cache push --to "file://$C" --key "$T/cache.sec" --compression "$comp" "${ps[@]}"
        why=""
        cverify >"$T/cv" 2>&1 || why="cache verify after the kill: $(grep -v '^ok\|^checked' "$T/cv" | head -2 | tr '\n' ' ')"
        if [ -z "$why" ] && ! push "$comp" "${ps[@]}" >"$T/next" 2>&1; then
            why="the next push failed: $(tail -2 "$T/next" | tr '\n' ' ')"
        fi
        if [ -z "$why" ] && ! cverify >"$T/cv" 2>&1; then
            why="cache verify after the next push: $(head -2 "$T/cv" | tr '\n' ' ')"
        fi
        for p in "${ps[@]}"; do
            h=${p##*/}
            [ -z "$why" ] && [ ! -f "$C/${h%%-*}.narinfo" ] && why="$p has no .narinfo after the next push"
        done
        [ -n "$why" ] && { b=$((b + 1)); echo "  push $i: $why"; }
    done
    report "cache push" "$b" "$PUSH_KILLS"
    echo "cache push: $(find "$C" -name '.tmp-*' | wc -l) temporary NAR files left by killed pushes (not broken: ignored, any listing may delete them)"
fi
# substitution: `store realise` of a closure (40 small paths, two of 4 MiB and one naming them
# all) from a file:// cache and, in turn, over HTTP from nginx (when installed; a killed
# download leaves a partial file for the next run), into a fresh store each round (the same
# state directory: store paths contain it). After the kill the store must verify with
# --check-contents (nothing registered whose data is missing, wrong or lacks a reference),
# and the next realise must succeed and verify too.
if want substitute; then
    SUB_KILLS=${SUB_KILLS:-$KILLS}
    SS=$T/subst-state
    sfl() { "$FLAKECTL" --state-dir "$SS" "$@"; }
    mkdir -p "$T/subst"
    sub_inputs=() sub_refs=""
    for k in $(seq 1 40); do
        mkdir -p "$T/subst/s$k"
        echo "small $k" >"$T/subst/s$k/f"
        p=$(sfl store add --name "small-$k" "$T/subst/s$k") || exit 1
        sub_inputs+=(--input "$p")
        sub_refs="$sub_refs $p"
    done
    for k in 1 2; do
        mkdir -p "$T/subst/big$k"
        head -c $((4 * 1024 * 1024)) /dev/urandom >"$T/subst/big$k/blob"
        p=$(sfl store add "$T/subst/big$k") || exit 1
        sub_inputs+=(--input "$p")
        sub_refs="$sub_refs $p"
    done
    echo "$sub_refs" >"$T/subst/refs"
    stop=$(sfl store build --name subst-top --builder /bin/sh --arg -c \
        --arg "/bin/cat $T/subst/refs > \$out" "${sub_inputs[@]}") || exit 1
    spub=$("$FLAKECTL" cache keygen kill9-subst-1 -o "$T/subst.sec") || exit 1
    sfl cache push --to "file://$T/subst-cache" --key "$T/subst.sec" "$stop" >/dev/null 2>&1 ||
        { echo "substitute: setup push failed" >&2; exit 1; }
    mv "$SS" "$T/subst-state.orig"
    urls=("file://$T/subst-cache")
    source "$(dirname "$0")/../e2e/lib/nginx-serve.bash"
    if [ -x "$nginx_bin" ]; then
        chmod 755 "$T"
        chmod -R a+rX "$T/subst-cache"
        nginx_serve "$T/subst-cache" >/dev/null && urls+=("$NGINX_URL")
        trap 'nginx_serve_stop; rm -rf "$T"' EXIT
    else
        echo "substitute: nginx is not installed, file:// only"
    fi
    realise_from() { sfl store realise --substituters "$1" --trusted-public-key "$spub" "$stop"; }
    declare -A sdur
    for u in "${urls[@]}"; do
        rm -rf "$SS"
        sdur[$u]=$(seconds realise_from "$u") || exit 1
    done
    echo "substitute: $(sfl store path-info --closure --json "$stop" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))') paths take $(for u in "${urls[@]}"; do printf '%s s (%s) ' "${sdur[$u]}" "${u%%:*}"; done)"
    b=0 partials=0
    for i in $(seq 1 "$SUB_KILLS"); do
        u=${urls[$((i % ${#urls[@]}))]}
        max=$(awk -v m="${sdur[$u]}" 'BEGIN { printf "%.2f", m * 1.2 }')
        rm -rf "$SS"
        kill_at "$max" "$FLAKECTL" --state-dir "$SS" store realise --substituters "$u" \
            --trusted-public-key "$spub" "$stop"
        why=""
        partials=$((partials + $(find "$SS/tmp/partial" -name '*.nar' 2>/dev/null | wc -l)))
        [ -d "$SS" ] && ! sfl store verify --check-contents >"$T/sv" 2>&1 &&
            why="store verify after the kill: $(head -2 "$T/sv" | tr '\n' ' ')"
        if [ -z "$why" ] && ! realise_from "$u" >"$T/next" 2>&1; then
            why="the next realise failed: $(tail -2 "$T/next" | tr '\n' ' ')"
        fi
        if [ -z "$why" ] && ! sfl store verify --check-contents >"$T/sv" 2>&1; then
            why="store verify after the next realise: $(head -2 "$T/sv" | tr '\n' ' ')"
        fi
        [ -n "$why" ] && { b=$((b + 1)); echo "  substitute $i (${u%%:*}): $why"; }
    done
    report "substitute" "$b" "$SUB_KILLS"
    echo "substitute: the kills left $partials partial downloads (each taken up by the next realise)"
fi
printf '%-10s %d broken states in %d kills\n' total "$total_broken" "$total"
