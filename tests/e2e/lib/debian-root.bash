# debian-root.bash - a private copy of the cached Debian 12 root (tests/fixtures/debian-root.sh)
# for a test to change freely (sourced).
#
#   debian_root_copy DEST   # DEST becomes a copy of the cached root; exits 77 (skip) with the
#                           # fixture's reason when this machine cannot make one
debian_root_copy() {
    local src rc=0
    src=$(bash "$FLAKECTL_SRC/tests/fixtures/debian-root.sh") || rc=$?
    [ "$rc" -eq 0 ] || exit "$rc"
    mkdir -p "$1"
    # --reflink shares blocks where the file system can; elsewhere a plain copy (~250 MB, ~1 s)
    cp -a --reflink=auto "$src/." "$1/"
    rm -f "$1/.flakectl-fixture-complete"
}
