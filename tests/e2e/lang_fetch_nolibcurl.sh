# lang_fetch_nolibcurl.sh - libcurl is opened on the first download, not at start-up
# (flakectl/dynlib.h): on a machine without it (here: the real libcurl.so.4 hidden by an
# empty file bound over it in a private mount namespace) evaluation and `version` work, and a
# download is a located error naming the library and the Debian package to install.
source "$(dirname "$0")/lib/expect.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: a private mount namespace needs root" >&2; exit 77; }
command -v unshare >/dev/null || { echo "SKIP: unshare (util-linux) is not installed" >&2; exit 77; }
lib=$(ldconfig -p | awk '$1 == "libcurl.so.4" && /x86-64|x86_64|64bit/ { print $NF; exit }')
[ -n "$lib" ] || lib=$(ldconfig -p | awk '$1 == "libcurl.so.4" { print $NF; exit }')
[ -n "$lib" ] || fail "libcurl.so.4 is not installed (scripts/install-deps.sh installs it)"
real=$(readlink -f "$lib")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$work/empty"
export XDG_CACHE_HOME="$work/cache" FLAKECTL_STATE_DIR="$work/state"

# nocurl CMD...: runs CMD with libcurl hidden; stdout, stderr and status in $work/{out,err,rc}
nocurl() {
  unshare -m --propagation private bash -c 'mount --bind "$1" "$2" || exit 90; shift 2
    rc=0; "$@" >"'"$work"'/out" 2>"'"$work"'/err" || rc=$?; echo "$rc" >"'"$work"'/rc"' \
    nocurl "$work/empty" "$real" "$@"
  [ -f "$work/rc" ] || fail "could not hide $real in a mount namespace"
  rc=$(cat "$work/rc") out=$(cat "$work/out") err=$(cat "$work/err")
  rm -f "$work/rc"
}

# the hiding works: loading libcurl really fails inside
nocurl python3 -c 'import ctypes; ctypes.CDLL("libcurl.so.4")'
[ "$rc" -ne 0 ] || fail "libcurl.so.4 could still be loaded with $real hidden"

nocurl "$FLAKECTL" eval --expr '1 + 1'
expect_eq "eval without libcurl: status ($err)" 0 "$rc"
expect_eq "eval without libcurl" 2 "$out"

nocurl "$FLAKECTL" version
expect_eq "version without libcurl: status ($err)" 0 "$rc"

nocurl "$FLAKECTL" eval --expr 'builtins.fetchurl "http://127.0.0.1:9/file"'
expect_eq "download without libcurl: status" 1 "$rc"
expect_contains "download without libcurl: the URL" "unable to download 'http://127.0.0.1:9/file'" "$err"
expect_contains "download without libcurl: the library" "cannot load libcurl.so.4" "$err"
expect_contains "download without libcurl: what to do" "install the Debian package libcurl4" "$err"
expect_contains "download without libcurl: where" "«string»:1:1" "$err"

# with libcurl back, the same binary downloads (file:// needs no server)
echo hello >"$work/file"
run_fl eval --expr "builtins.readFile (builtins.fetchurl \"file://$work/file\")"
expect_eq "download with libcurl: status ($err)" 0 "$rc"
expect_eq "download with libcurl" '"hello\n"' "$out"
echo "PASS lang_fetch_nolibcurl"
