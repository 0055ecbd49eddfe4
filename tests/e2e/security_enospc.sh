#!/usr/bin/env bash
# security_enospc.sh - a full state disk during switch (issue 20, finding 5). The state dir is
# a small tmpfs; generation 2 is built while there is room, then the disk is filled to several
# levels (0 to 64 pages left, 0 to 6 inodes left) and `switch` runs. Whatever the level, the
# switch either completes (generation 2 fully live) or fails naming a step with generation 1
# fully live: /etc, current, the default and managed.json all generation 1's.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
mkdir -p "$T/probe"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=1m tmpfs "$T/probe" 2>/dev/null; then
    echo "skip: needs to mount a tmpfs as the state dir (root with CAP_SYS_ADMIN)"
    exit 77
fi
umount "$T/probe"
mounts=()
cleanup() {
    local m
    for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
F=$T/flake
mkdir -p "$F"
export XDG_CACHE_HOME=$T/cache
source "$FLAKECTL_SRC/tests/e2e/lib/host-flake.bash"
host_flake "$F"
host() { # GEN
    cat >"$F/host.nix" <<EOF
{ ... }: {
  networking.hostName = "h";
  environment.etc."gen".text = "generation $1\n";
  environment.etc."only-$1".text = "only in $1\n";
  environment.etc."copied" = { text = "copy $1\n"; mode = "0644"; };
  users.users.u$1 = { isNormalUser = true; };
}
EOF
}

# state_of: what says which generation is live (the root's files, the links, the record).
state_of() {
    (cd "$ROOT" && find . -printf '%p %y %l\n' | LC_ALL=C sort)
    cat "$ROOT/etc/static/gen" "$ROOT/etc/copied" "$ROOT/etc/passwd" 2>&1
    readlink "$ROOT/run/flakectl/current" "$STATE/profiles/system"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("toplevel"), d.get("inFlight"), sorted(e["path"] for e in d["entries"]))' \
        "$STATE/activation/managed.json"
}

# fill LEFT: leaves LEFT pages (4 KiB) free on the state tmpfs; "iN" leaves N inodes.
fill() {
    rm -f "$STATE/.fill"* 2>/dev/null || true
    if [ "${1#i}" != "$1" ]; then
        local i=0 k
        while : 2>/dev/null >"$STATE/.fill-$i"; do i=$((i + 1)); done
        for k in $(seq 1 "${1#i}"); do rm -f "$STATE/.fill-$((i - k))"; done
        return 0
    fi
    dd if=/dev/zero of="$STATE/.fill" bs=4096 2>/dev/null || true
    [ "$1" = 0 ] || truncate -s -$(($1 * 4096)) "$STATE/.fill"
}

broken=0
levels="0 1 2 4 8 16 64 i0 i1 i2 i3 i4 i6"
for level in $levels; do
    R=$T/r-$level
    mkdir -p "$R/root" "$R/state"
    mount -t tmpfs -o size=16m,nr_inodes=2000 tmpfs "$R/state"
    mounts+=("$R/state")
    ROOT=$R/root STATE=$R/state
    host 1
    fl --flake "$F" switch --host h >"$R/s1" 2>&1 || { cat "$R/s1" >&2; fail "$level: first switch"; }
    host 2
    top2=$(fl --flake "$F" build --host h --no-link 2>"$R/b2") || { cat "$R/b2" >&2; fail "$level: build 2"; }
    before=$(state_of)
    fill "$level"
    if fl --flake "$F" switch --host h >"$R/out" 2>"$R/err"; then
        rm -f "$STATE/.fill"*
        [ "$(readlink "$ROOT/run/flakectl/current")" = "$top2" ] || fail "$level: switch said yes, current is not generation 2"
        [ "$(cat "$ROOT/etc/static/gen")" = "generation 2" ] || fail "$level: switch said yes, /etc is not generation 2"
        [ "$(readlink -f "$STATE/profiles/system")" = "$top2" ] || fail "$level: switch said yes, the default is not generation 2"
        echo "level $level: switched"
        continue
    fi
    rm -f "$STATE/.fill"*
    after=$(state_of)
    if [ "$before" != "$after" ]; then
        echo "level $level: generation 1 is not fully live after a failed switch:" >&2
        diff <(echo "$before") <(echo "$after") >&2 || true
        cat "$R/err" >&2
        broken=$((broken + 1))
        continue
    fi
    # Before the first change the error says nothing changed (or, in the build, what it was
    # rooting); after it, the step.
    grep -qE "step '[^']+'|nothing was changed|while rooting" "$R/err" || { cat "$R/err" >&2; fail "$level: the error names no step"; }
    # Room again: the same switch now completes.
    fl --flake "$F" switch --host h >"$R/again" 2>&1 || { cat "$R/again" >&2; fail "$level: switch with room again"; }
    [ "$(cat "$ROOT/etc/static/gen")" = "generation 2" ] || fail "$level: generation 2 after room again"
    echo "level $level: refused, generation 1 intact: $(grep -oE "step '[^']+'|nothing was changed|while rooting" "$R/err" | head -1)"
done
[ "$broken" = 0 ] || fail "$broken fill levels left a mixed state"
echo ok
