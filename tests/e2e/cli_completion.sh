# cli_completion.sh - `flakectl completion bash|zsh|fish`, installed by `cmake --install` and
# driven through each real shell (bash -i with bash-completion, an interactive zsh on a pty
# with compinit, fish's `complete -C`): the candidates each offers for commands, options,
# choices, host names, @tags, option paths and generation numbers.
set -uo pipefail
: "${FLAKECTL:?run through ctest (FLAKECTL is the binary)}"
for sh in zsh fish; do
    command -v $sh >/dev/null || { echo "SKIP: $sh is not installed (scripts/install-deps.sh)"; exit 77; }
done
[ -r /usr/share/bash-completion/bash_completion ] ||
    { echo "SKIP: bash-completion is not installed (scripts/install-deps.sh)"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# a TAB must leave the machine as it found it: no default state directory made (it was, by the
# host-name listings, on a fresh machine), the listing's scratch store in this test's cache
[ -e /var/lib/flakectl ] && had_default_state=1 || had_default_state=0
export XDG_CACHE_HOME=$T/cache
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# expect NAME GOT WANT...: every WANT is a line of GOT
expect() {
    local name=$1 got=$2 w
    shift 2
    for w in "$@"; do
        grep -qxF -- "$w" <<<"$got" || fail "$name: no candidate '$w' in: $(tr '\n' ' ' <<<"$got")"
    done
}
# expect_none NAME GOT UNWANTED...: no UNWANTED is a line of GOT
expect_none() {
    local name=$1 got=$2 w
    shift 2
    for w in "$@"; do
        grep -qxF -- "$w" <<<"$got" && fail "$name: unexpected candidate '$w'"
    done
    return 0
}

# The scripts as a user gets them: installed to a prefix, or printed by the binary when the
# build tree is not at hand.
P=$T/prefix
build=$(dirname "$FLAKECTL")
if [ -f "$build/cmake_install.cmake" ]; then
    cmake --install "$build" --prefix "$P" >/dev/null || fail "cmake --install"
else
    echo "note: no build tree next to $FLAKECTL: using the printed scripts"
    mkdir -p "$P/bin" "$P/share/bash-completion/completions" "$P/share/zsh/site-functions" \
        "$P/share/fish/vendor_completions.d"
    cp "$FLAKECTL" "$P/bin/flakectl"
    "$FLAKECTL" completion bash >"$P/share/bash-completion/completions/flakectl"
    "$FLAKECTL" completion zsh >"$P/share/zsh/site-functions/_flakectl"
    "$FLAKECTL" completion fish >"$P/share/fish/vendor_completions.d/flakectl.fish"
fi
for f in bash-completion/completions/flakectl zsh/site-functions/_flakectl \
    fish/vendor_completions.d/flakectl.fish; do
    [ -s "$P/share/$f" ] || fail "cmake --install did not install share/$f"
done
# the scripts call the flakectl on PATH, as a user's would
export PATH=$P/bin:$PATH
ln -sf "$FLAKECTL" "$P/bin/flakectl"

# A flake with three hosts, two tags and a generation history.
F=$T/flake
mkdir -p "$F"
cat >"$F/flake.nix" <<'NIX'
{ outputs = { self, ... }: {
    hosts = {
      alpha = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./host.nix ];
                deploy = { targetHost = "root@alpha"; tags = [ "web" "db" ]; }; };
      beta = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./host.nix ];
               deploy.tags = [ "web" ]; };
      gamma = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./host.nix ]; };
    };
  }; }
NIX
echo '{ environment.etc."motd".text = "one\n"; }' >"$F/host.nix"
S=$T/state
R=$T/root
mkdir -p "$R"
(cd "$F" && flakectl --state-dir "$S" --root "$R" switch --host alpha >/dev/null) || fail "switch 1"
echo '{ environment.etc."motd".text = "two\n"; }' >"$F/host.nix"
(cd "$F" && flakectl --state-dir "$S" --root "$R" switch --host alpha >/dev/null) || fail "switch 2"
mkdir -p "$T/elsewhere"
# names the flake defines under attrsOf options (not switched: completion evaluates the file)
cat >"$F/host.nix" <<'NIX'
{ environment.etc."motd".text = "two\n";
  users.users.alice.isNormalUser = true; users.users.bob.isNormalUser = true;
  home-manager.users.alice.home.file.".vimrc".text = "set nu\n"; }
NIX

# ---- bash: bash-completion loads the installed script on first use ----
bash_complete() { # DIR LINE...: for each LINE, its candidates then "== N"
    local dir=$1
    shift
    (cd "$dir" && XDG_DATA_DIRS=$P/share HOME=$T bash --norc --noprofile -i -s "$@" <<'BASH' 2>/dev/null
source /usr/share/bash-completion/bash_completion
n=0
for line in "$@"; do
    n=$((n + 1))
    read -ra COMP_WORDS <<<"$line"
    [[ $line == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE=$line
    COMP_POINT=${#line}
    COMPREPLY=()
    complete -p flakectl >/dev/null 2>&1 || _completion_loader flakectl
    spec=$(complete -p flakectl 2>/dev/null)
    fn=${spec#*-F }
    fn=${fn%% *}
    "$fn" flakectl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\n' "${COMPREPLY[@]}"
    echo "== $n"
done
BASH
    )
}
pick() { # N OUTPUT: the candidates of the Nth line
    awk -v n="$1" 'BEGIN { k = 1 } /^== / { k++; next } k == n { print }' <<<"$2"
}

out=$(bash_complete "$F" "flakectl sw" "flakectl switch --host " "flakectl switch --on " \
    "flakectl --state-dir $S rollback --to " "flakectl option --host alpha environment.e" \
    "flakectl switch --" "flakectl --color " "flakectl store " "flakectl completion " \
    "flakectl eval --host alpha networking.host" "flakectl secret edit fla" "flakectl help st")
expect "bash: sw" "$(pick 1 "$out")" switch
expect "bash: --host" "$(pick 2 "$out")" alpha beta gamma
expect "bash: --on" "$(pick 3 "$out")" @web @db alpha beta gamma
expect "bash: --to" "$(pick 4 "$out")" 1 2
expect "bash: option paths" "$(pick 5 "$out")" environment.etc
expect "bash: switch options" "$(pick 6 "$out")" --host --backup-ext --target-host --on --flake --help
expect_none "bash: switch options" "$(pick 6 "$out")" --to --strict
expect "bash: --color" "$(pick 7 "$out")" auto always never
expect "bash: store" "$(pick 8 "$out")" add dump verify
expect "bash: completion" "$(pick 9 "$out")" bash zsh fish
expect "bash: eval --host option path" "$(pick 10 "$out")" networking.hostName
expect "bash: a file" "$(pick 11 "$out")" flake.nix
expect "bash: help names commands" "$(pick 12 "$out")" store
[ "$(pick 1 "$out")" = switch ] || fail "bash: sw offers more than switch: $(pick 1 "$out")"
# comma lists (--on of switch/test/boot/dry-activate and status): the element after the
# last comma, never one already chosen; option paths through attrsOf names to the submodule
out=$(bash_complete "$F" "flakectl switch --on alpha," "flakectl status --on @web,g" \
    "flakectl option --host alpha users.users." "flakectl option --host alpha users.users.alice.isN" \
    "flakectl eval --host alpha home-manager.users.alice.home.file.")
expect "bash: --on after a comma" "$(pick 1 "$out")" alpha,beta alpha,gamma alpha,@web alpha,@db
expect_none "bash: --on: no host twice" "$(pick 1 "$out")" alpha,alpha beta gamma
expect "bash: status --on after a comma" "$(pick 2 "$out")" @web,gamma
[ "$(pick 2 "$out")" = @web,gamma ] || fail "bash: status --on @web,g offers more: $(pick 2 "$out")"
expect "bash: users.users." "$(pick 3 "$out")" users.users.alice users.users.bob
expect "bash: a user's options" "$(pick 4 "$out")" users.users.alice.isNormalUser
expect "bash: home-manager's attrsOf" "$(pick 5 "$out")" 'home-manager.users.alice.home.file.".vimrc"'
out=$(bash_complete "$T/elsewhere" "flakectl --flake $F switch --host ")
expect "bash: --flake is passed on" "$(pick 1 "$out")" alpha beta gamma

# ---- zsh: an interactive zsh on a pty, compinit over the installed site-functions ----
cat >"$T/drive.zsh" <<'ZSH'
# drive.zsh FPATHDIR OUT LINE...: types each LINE and TAB into an interactive zsh on a pty;
# compadd is wrapped to write what completion offered, then "== N", to OUT.
zmodload zsh/zpty
fdir=$1 out=$2; shift 2
: >$out
zpty z zsh -f -i
zpty -w z "PS1='%% '; fpath=($fdir \$fpath); autoload -U compinit; compinit -u -d $out.dump"
zpty -w z "compadd() { local -a __w; builtin compadd -O __w \"\$@\"; (( \$#__w )) && print -rl -- \$__w >>$out; builtin compadd \"\$@\"; }"
zpty -w z "print -r -- '== 0' >>$out"
for i in {1..200}; do grep -q '^== 0$' $out 2>/dev/null && break; sleep 0.05; done
n=0
for line in "$@"; do
  n=$((n+1))
  zpty -w -n z "$line"$'\t'
  zpty -w z $'\C-e\C-u'"print -r -- '== $n' >>$out"
  for i in {1..200}; do grep -q "^== $n\$" $out 2>/dev/null && break; sleep 0.05; done
done
zpty -d z
ZSH
zsh_complete() { # DIR LINE...
    local dir=$1
    shift
    (cd "$dir" && HOME=$T zsh -f "$T/drive.zsh" "$P/share/zsh/site-functions" "$T/zout" "$@" \
        >/dev/null 2>&1)
    sed '0,/^== 0$/d' "$T/zout"
}
out=$(zsh_complete "$F" "flakectl sw" "flakectl switch --host " "flakectl switch --on " \
    "flakectl --state-dir $S rollback --to " "flakectl option --host alpha environment.e" \
    "flakectl switch --ho" "flakectl --color=a" "flakectl store v" "flakectl help store v")
expect "zsh: sw" "$(pick 1 "$out")" switch
expect "zsh: --host" "$(pick 2 "$out")" alpha beta gamma
expect "zsh: --on" "$(pick 3 "$out")" @web @db alpha beta gamma
expect "zsh: --to" "$(pick 4 "$out")" 1 2
expect "zsh: option paths" "$(pick 5 "$out")" environment.etc
expect "zsh: --ho" "$(pick 6 "$out")" --host
expect "zsh: --color=" "$(pick 7 "$out")" auto always
expect "zsh: store v" "$(pick 8 "$out")" verify
expect "zsh: help store v" "$(pick 9 "$out")" verify
expect_none "zsh: sw" "$(pick 1 "$out")" store
out=$(zsh_complete "$F" "flakectl switch --on alpha,b" "flakectl option --host alpha users.users.b" \
    "flakectl option --host alpha home-manager.users.")
expect "zsh: --on after a comma" "$(pick 1 "$out")" alpha,beta
expect "zsh: users.users." "$(pick 2 "$out")" users.users.bob
expect "zsh: home-manager.users." "$(pick 3 "$out")" home-manager.users.alice

# ---- fish: complete -C with the installed vendor completions ----
fish_complete() { # DIR LINE: the candidates, descriptions cut
    (cd "$1" && HOME=$T XDG_DATA_DIRS=$P/share fish --no-config -c \
        "set fish_complete_path $P/share/fish/vendor_completions.d \$fish_complete_path; complete -C '$2'" \
        2>/dev/null | cut -f1)
}
expect "fish: sw" "$(fish_complete "$F" "flakectl sw")" switch
expect "fish: --host" "$(fish_complete "$F" "flakectl switch --host ")" alpha beta gamma
expect "fish: --on" "$(fish_complete "$F" "flakectl switch --on ")" @web @db alpha
expect "fish: --to" "$(fish_complete "$F" "flakectl --state-dir $S rollback --to ")" 1 2
expect "fish: option paths" "$(fish_complete "$F" "flakectl option --host alpha environment.e")" \
    environment.etc
expect "fish: --ho" "$(fish_complete "$F" "flakectl switch --ho")" --host
expect "fish: --color=" "$(fish_complete "$F" "flakectl --color=a")" --color=auto --color=always
expect "fish: --flake" "$(fish_complete "$T/elsewhere" "flakectl --flake $F build --host ")" \
    alpha beta gamma
expect "fish: help" "$(fish_complete "$F" "flakectl he")" help
expect "fish: help store v" "$(fish_complete "$F" "flakectl help store v")" verify
expect "fish: --on after a comma" "$(fish_complete "$F" "flakectl switch --on @db,")" \
    @db,alpha @db,beta @db,gamma @db,@web
expect_none "fish: --on: no tag twice" "$(fish_complete "$F" "flakectl switch --on @db,")" @db,@db
expect "fish: users.users." "$(fish_complete "$F" "flakectl option --host alpha users.users.")" \
    users.users.alice users.users.bob
expect "fish: a user's options" \
    "$(fish_complete "$F" "flakectl option --host alpha users.users.bob.isS")" users.users.bob.isSystemUser
got=$(fish_complete "$F" "flakectl sw")
[ "$got" = switch ] || fail "fish: sw offers more than switch: $got"

# ---- a user who cannot write the state directory (TAB comes before sudo) gets the names ----
if id nobody >/dev/null 2>&1 && runuser -u nobody -- test -x "$FLAKECTL"; then
    chmod 755 "$T"
    chmod -R a+rX "$F"
    mkdir "$T/nobody" && chown nobody "$T/nobody"
    got=$(cd "$F" && runuser -u nobody -- env -u XDG_CACHE_HOME HOME="$T/nobody" PATH="$P/bin:$PATH" \
        flakectl --state-dir "$S" completion --values host 2>"$T/e")
    expect "non-root: hosts" "$got" alpha beta gamma
    got=$(cd "$F" && runuser -u nobody -- env -u XDG_CACHE_HOME HOME="$T/nobody" PATH="$P/bin:$PATH" \
        flakectl --state-dir "$S" completion --values generation 2>>"$T/e")
    expect "non-root: generations" "$got" 1 2
    [ -s "$T/e" ] && fail "non-root: the helper complained: $(cat "$T/e")"
else
    echo "note: no user nobody who can run $FLAKECTL: the non-root case is not checked"
fi

# ---- the helper: outside a flake it offers nothing and says why on stderr ----
(cd "$T/elsewhere" && flakectl completion --values host >"$T/o" 2>"$T/e")
[ $? = 1 ] || fail "--values host outside a flake should fail"
[ -s "$T/o" ] && fail "--values host outside a flake printed candidates"
flakectl completion tcsh >/dev/null 2>"$T/e"
[ $? = 2 ] || fail "completion tcsh: exit 2 expected"
grep -q "unknown shell 'tcsh'" "$T/e" || fail "completion tcsh: $(cat "$T/e")"
flakectl completion >/dev/null 2>"$T/e"
[ $? = 2 ] || fail "completion without a shell: exit 2 expected"
grep -q "needs SHELL (bash, zsh or fish)" "$T/e" || fail "completion without a shell: $(cat "$T/e")"

[ "$had_default_state" = 1 ] || [ ! -e /var/lib/flakectl ] ||
    fail "completion created /var/lib/flakectl, which did not exist before"

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "ok"
