# man_pages.sh - the manual as a new user gets it: after `cmake --install` to a prefix, man
# finds flakectl(1), a flakectl-COMMAND(1) for every command and flakectl-configuration(5);
# each page renders, and holds every command, subcommand and option the parser's tables
# show in --help (the pages are written from those tables, so nothing may be missing).
source "$(dirname "$0")/lib/expect.sh"
command -v man >/dev/null 2>&1 || { echo "SKIP: man is not installed (man-db, scripts/install-deps.sh)"; exit 77; }
command -v groff >/dev/null 2>&1 || { echo "SKIP: groff is not installed (groff-base, scripts/install-deps.sh)"; exit 77; }
: "${FLAKECTL_BUILD:?FLAKECTL_BUILD must point at the build directory}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache"
prefix="$work/prefix"

cmake --install "$FLAKECTL_BUILD" --prefix "$prefix" >"$work/install.log" 2>&1 ||
    fail "cmake --install failed: $(cat "$work/install.log")"
[ -x "$prefix/bin/flakectl" ] || fail "cmake --install put no flakectl in $prefix/bin"
export MANPATH="$prefix/share/man" MANWIDTH=200 LC_ALL=C.UTF-8
fl="$prefix/bin/flakectl"

# show PAGE...: the rendered page (man's exit status checked), in $page
show() {
    local rc=0
    page=$(man -P cat "$@" 2>"$work/man.err") || rc=$?
    [ "$rc" = 0 ] || fail "man $* exited $rc: $(cat "$work/man.err")"
    [ -z "$(grep -v '^$' "$work/man.err")" ] || fail "man $* warned: $(cat "$work/man.err")"
}

# the options a --help text lists (every spelling of the left column)
help_options() {
    sed -n '/^options:$/,/^$/p; /^global options:$/,/^$/p' |
        grep -E '^  -' | sed -E 's/^  //; s/  .*//' | tr ',' '\n' |
        sed -E 's/^ +//; s/ .*//' | grep -E '^-' | sort -u
}

# has_opt OPTION: the page has an entry for OPTION (a tag line: "-i, --identity KEY")
has_opt() {
    printf '%s\n' "$page" | grep -qE -- "^ +(-[^ ]*, )*$1( |,|\$)"
}

# --- flakectl(1): every command and every global option
[ "$(man -w flakectl)" = "$prefix/share/man/man1/flakectl.1" ] || fail "man -w flakectl: $(man -w flakectl 2>&1)"
show flakectl
top=$page
expect_contains "NAME" "flakectl - build, switch and deploy machines" "$top"
expect_contains "see also section 5" "flakectl-configuration(5)" "$top"
commands=$("$fl" --help | sed -n '/^commands:$/,/^$/p' | sed -n 's/^  \([a-z-]*\) .*/\1/p')
[ "$(printf '%s\n' "$commands" | wc -l)" -ge 20 ] || fail "flakectl --help listed only: $commands"
for c in $commands; do
    expect_contains "flakectl(1) lists $c" "flakectl-$c(1)" "$top"
done
for o in $("$fl" --help | sed -n '/^global options/,$p' | grep -E '^  -' | sed -E 's/^  //; s/  .*//' |
           tr ',' '\n' | sed -E 's/^ +//; s/ .*//' | sort -u); do
    has_opt "$o" || fail "flakectl(1) has no entry for the global option $o"
done

# --- flakectl-COMMAND(1): the command's options, its subcommands and theirs
for c in $commands; do
    show "flakectl-$c"
    expect_contains "flakectl-$c NAME" "flakectl-$c - " "$page"
    expect_contains "flakectl-$c SYNOPSIS" "flakectl $c" "$page"
    for o in $("$fl" "$c" --help | help_options); do
        has_opt "$o" || fail "flakectl-$c(1) has no entry for $o"
    done
    subs=$("$fl" "$c" --help | sed -n '/^commands:$/,/^$/p' | sed -n 's/^  \([a-z-]*\) .*/\1/p')
    for s in $subs; do
        expect_contains "flakectl-$c(1) has subcommand $s" "flakectl $c $s" "$page"
        for o in $("$fl" "$c" "$s" --help | help_options); do
            [ "$o" = -h ] || [ "$o" = --help ] || has_opt "$o" ||
                fail "flakectl-$c(1) has no entry for $o of $c $s"
        done
    done
done
# section 1 holds no page of a command the table lacks
for f in "$prefix"/share/man/man1/flakectl-*.1; do
    c=$(basename "$f" .1); c=${c#flakectl-}
    printf '%s\n' "$commands" | grep -qx -- "$c" || fail "a page for '$c', which is no command"
done

# the installed pages are what this binary writes now (the build regenerated them)
rc=0
"$fl" help --man "$work/man1" || rc=$?
expect_eq "help --man exit" 0 "$rc"
diff -r "$work/man1" "$prefix/share/man/man1" >"$work/man.diff" ||
    fail "installed section 1 differs from 'flakectl help --man': $(head -20 "$work/man.diff")"
"$fl" option --reference man >"$work/conf.5"
cmp -s "$work/conf.5" "$prefix/share/man/man5/flakectl-configuration.5" ||
    fail "installed flakectl-configuration.5 differs from 'flakectl option --reference man'"
rc=0
"$fl" help --man >/dev/null 2>"$work/err" || rc=$?
expect_eq "help --man without a directory" 2 "$rc"
expect_contains "help --man usage" "help --man needs one directory" "$(cat "$work/err")"

# --- flakectl-configuration(5): the options of every platform, as the reference lists them
show 5 flakectl-configuration
conf=$page
expect_contains "NAME" "flakectl-configuration - the options of a flakectl host's configuration" "$conf"
for o in networking.hostName 'users.users.<name>.uid' 'home-manager.users.<name>.programs.git.enable' \
         homebrew.casks 'launchd.agents.<name>.script' wsl.defaultUser; do
    expect_contains "configuration(5) has $o" "$o" "$conf"
done
# --- every file a page refers to is installed: no page names the source tree's docs/, and
# each share/doc/flakectl/X it names exists under the prefix (pages name the configured
# prefix, this test installs to another, so the part from share/doc/flakectl/ on is compared)
refs=0
for f in "$prefix"/share/man/man1/*.1 "$prefix"/share/man/man5/*.5; do
    text=$(sed 's/\\-/-/g; s/\\f[BIR]//g' "$f")
    bare=$(printf '%s\n' "$text" | grep -oE '(^|[^a-zA-Z0-9_./-])docs/[A-Za-z0-9_./-]+' || true)
    [ -z "$bare" ] || fail "$(basename "$f") names files of the source tree: $bare"
    for d in $(printf '%s\n' "$text" | grep -oE 'share/doc/flakectl/[A-Za-z0-9_/-]+(\.md)?' | sort -u); do
        refs=$((refs + 1))
        [ -e "$prefix/$d" ] || fail "$(basename "$f") refers to $d, which is not installed"
    done
done
[ "$refs" -gt 0 ] || fail "no page refers to the installed guide (flakectl-switch(1) names remote.md)"
show flakectl-switch
expect_contains "flakectl-switch(1) names the installed remote.md" "share/doc/flakectl/remote.md" "$page"

n_ref=$("$fl" option --reference markdown | grep -c '^## ')
n_man=$(printf '%s\n' "$conf" | grep -c '^ *Declared in: ')
expect_eq "configuration(5) lists every option" "$n_ref" "$n_man"
echo "man_pages: ok ($(printf '%s\n' "$commands" | wc -l) commands, $n_man options)"
