#!/usr/bin/env bash
# lang_fetch_tarball_bad.sh - builtins.fetchTarball of an archive flakectl must not unpack as
# given says what is wrong with it, in Nix 2.8's words (checked against nix-instantiate when
# it is installed) and naming the entry: a member whose name has a '..' component ("Path
# contains '..'", the entry, nothing written outside), and a FIFO or a device ("has an
# unsupported type", which entry, what it is). Exit 1, nothing added to the store; a
# well-formed archive next to them still unpacks.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/nix.bash"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
state="$work/state"
mkdir -p out/inner
python3 - <<'PY'
import io, tarfile
def member(t, name, kind=tarfile.REGTYPE, data=b"x\n"):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    if kind == tarfile.CHRTYPE:
        ti.devmajor, ti.devminor = 1, 3
    if kind == tarfile.REGTYPE:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    else:
        t.addfile(ti)
with tarfile.open("out/inner/dotdot.tar.gz", "w:gz") as t:
    member(t, "top/a")
    member(t, "top/../../escaped")
with tarfile.open("out/inner/fifo.tar.gz", "w:gz") as t:
    member(t, "top/a")
    member(t, "top/sub/pipe", tarfile.FIFOTYPE)
with tarfile.open("out/inner/dev.tar.gz", "w:gz") as t:
    member(t, "top/a")
    member(t, "top/null", tarfile.CHRTYPE)
with tarfile.open("out/inner/good.tar.gz", "w:gz") as t:
    member(t, "top/a")
PY
url() { echo "file://$work/out/inner/$1.tar.gz"; }
nix_says() {
    have_nix || return 0
    NIX_STORE_DIR="$state/store" NIX_STATE_DIR="$work/nix/var" NIX_LOG_DIR="$work/nix/log" \
        NIX_REMOTE="local?root=$work/nix" nixo nix-instantiate --eval --expr "builtins.fetchTarball \"$(url "$1")\"" 2>&1 || true
}

run_fl --state-dir "$state" eval --expr "builtins.fetchTarball \"$(url good)\""
expect_eq "a good archive: exit ($err)" 0 "$rc"
before=$(ls "$state/store" | wc -l)

run_fl --state-dir "$state" eval --expr "builtins.fetchTarball \"$(url dotdot)\""
expect_eq "'..': exit" 1 "$rc"
expect_contains "'..': Nix's words" "failed to extract archive (Path contains '..')" "$err"
expect_contains "'..': the entry and the archive" "the entry 'top/../../escaped' of '$(url dotdot)'" "$err"
expect_not_contains "'..': not the old message" "Unrecognized archive format" "$err"
[ ! -e "$work/out/escaped" ] && [ ! -e "$work/escaped" ] || fail "an entry with '..' was written outside"
if have_nix; then expect_contains "'..': what nix-instantiate says" "Path contains '..'" "$(nix_says dotdot)"; fi

run_fl --state-dir "$state" eval --expr "builtins.fetchTarball \"$(url fifo)\""
expect_eq "FIFO: exit" 1 "$rc"
expect_contains "FIFO: Nix's words, the entry" "file 'top/sub/pipe' in the tarball '$(url fifo)' has an unsupported type (a FIFO" "$err"
expect_not_contains "FIFO: not the old message" "cannot read the unpacked tarball" "$err"
if have_nix; then expect_contains "FIFO: what nix-instantiate says" "has an unsupported type" "$(nix_says fifo)"; fi

# only root can make the device node tar unpacks (elsewhere tar refuses the archive)
if [ "$(id -u)" = 0 ]; then
    run_fl --state-dir "$state" eval --expr "builtins.fetchTarball \"$(url dev)\""
    expect_eq "device: exit" 1 "$rc"
    expect_contains "device: the entry and what it is" "file 'top/null' in the tarball '$(url dev)' has an unsupported type (a character device" "$err"
fi

expect_eq "nothing added to the store" "$before" "$(ls "$state/store" | wc -l)"
echo "ok: fetchTarball names the entry that escapes or is a special file"
