#!/usr/bin/env bash
# lang_fetchgit_http.sh - builtins.fetchGit of http:// repositories: Git's smart protocol
# from a real nginx (started here on 127.0.0.1) running git-http-backend through fcgiwrap,
# fetched with libgit2, against the live nix-instantiate 2.8 (which runs git) with the same
# store directory: no `ref` (Nix 2.8 takes "master" of a remote repository, not its HEAD), a
# `ref`, a `rev` on it, the same attributes and store
# paths, the files in flakectl's store (readFile of the result), `submodules = true` (a local
# superproject whose submodule is served over http), a missing repository an error naming
# the URL.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/nix.bash"
have_nix || { echo "skip: nix-bin (nix-instantiate 2.8, the oracle) is not installed"; exit 77; }
source "$(dirname "$0")/lib/nginx.bash"
fcgi_bin=$(command -v fcgiwrap || echo /usr/sbin/fcgiwrap)
backend=$(git --exec-path)/git-http-backend
for b in "$nginx_bin" "$fcgi_bin" "$backend"; do
    [ -x "$b" ] || { echo "skip: $b is missing (scripts/install-deps.sh installs nginx, fcgiwrap, git)"; exit 77; }
done
nginx_work
state="$work/state"
nix_side() {
    export NIX_STORE_DIR="$state/store" NIX_STATE_DIR="$work/nix/var" NIX_LOG_DIR="$work/nix/log" \
        NIX_REMOTE="local?root=$work/nix"
}
g() { git -c user.name=t -c user.email=t@e -c init.defaultBranch=master "$@"; }
export GIT_AUTHOR_DATE="2022-05-01T00:00:00Z" GIT_COMMITTER_DATE="2022-05-01T00:00:00Z"

mkdir -p repo ngx/tmp srv
(cd repo && g init -q && echo a > a && mkdir d && echo '#!/bin/sh' > d/x && chmod +x d/x &&
    ln -s a l && g add -A && g commit -qm one &&
    g checkout -qb other && echo o > o && g add o && g commit -qm two && g checkout -q master)
g clone -q --bare repo srv/repo.git
chmod -R a+rX srv
other_rev=$(git -C repo rev-parse other)

port=$(free_port)
"$fcgi_bin" -s "unix:$work/ngx/fcgi.sock" 2> ngx/fcgi.err & ngx_also+=($!)
for _ in $(seq 50); do [ -S ngx/fcgi.sock ] && break; sleep 0.1; done
chmod 666 ngx/fcgi.sock # nginx's workers connect as another user
nginx_start "$work" "$port" "    server {
        listen 127.0.0.1:$port;
        location ~ ^/git(/.*)\$ {
            fastcgi_pass unix:$work/ngx/fcgi.sock;
            fastcgi_param SCRIPT_FILENAME $backend;
            fastcgi_param GIT_PROJECT_ROOT $work/srv;
            fastcgi_param GIT_HTTP_EXPORT_ALL \"\";
            fastcgi_param PATH_INFO \$1;
            fastcgi_param QUERY_STRING \$query_string;
            fastcgi_param REQUEST_METHOD \$request_method;
            fastcgi_param CONTENT_TYPE \$content_type;
            fastcgi_param CONTENT_LENGTH \$content_length;
        }
    }"
url="http://127.0.0.1:$port/git/repo.git"
git ls-remote "$url" > /dev/null 2>&1 || fail "nginx does not serve the repository: $(cat ngx/error.log ngx/fcgi.err 2>/dev/null)"

expr="let main = builtins.fetchGit \"$url\";
    other = builtins.fetchGit { url = \"$url\"; ref = \"other\"; };
    pinned = builtins.fetchGit { url = \"$url\"; ref = \"other\"; rev = \"$other_rev\"; name = \"pinned\"; };
in [ main other pinned.outPath (builtins.readFile \"\${main}/a\") (builtins.readFile \"\${other}/o\") ]"
run_fl --state-dir "$state" eval --strict --expr "$expr"
expect_eq "eval exit ($err)" 0 "$rc"
expect_eq "the same attributes and paths as nix-instantiate" \
    "$(nix_side; nixo nix-instantiate --eval --strict --expr "$expr")" "$out"
expect_contains "the other branch's revision" "rev = \"$other_rev\"" "$out"
grep -q "git-upload-pack" ngx/access.log || fail "no smart-protocol request reached nginx"
tree=$("$FLAKECTL" --state-dir "$state" eval --expr "(builtins.fetchGit \"$url\").outPath" | tr -d '"')
"$FLAKECTL" --state-dir "$state" store path-info "$tree" > /dev/null || fail "the fetched tree is not valid"
[ -x "$tree/d/x" ] && [ -L "$tree/l" ] || fail "the executable bit or the symlink was lost"
echo "ok: fetchGit over http: default branch, ref, rev, the same paths as nix's, in the store"

# submodules = true: a local superproject whose submodule is served over http
mkdir sub
(cd sub && g init -q && echo s > s && g add s && g commit -qm s)
g clone -q --bare sub srv/sub.git
chmod -R a+rX srv
g clone -q "$url" super
(cd super && g submodule -q add "http://127.0.0.1:$port/git/sub.git" sub && g commit -qm sub)
expr="let r = builtins.fetchGit { url = ./super; submodules = true; }; in
    [ r (builtins.readFile \"\${r}/sub/s\") (builtins.fetchGit ./super).narHash ]"
run_fl --state-dir "$state" eval --strict --expr "$expr"
expect_eq "submodules exit ($err)" 0 "$rc"
expect_eq "submodules: the same attributes and paths as nix-instantiate" \
    "$(nix_side; nixo nix-instantiate --eval --strict --expr "$expr")" "$out"
expect_contains "the submodule's file" '"s\n"' "$out"
expect_contains "submodules is true" "submodules = true" "$out"
echo "ok: fetchGit with submodules = true, as nix's"

run_fl --state-dir "$state" eval --expr "builtins.fetchGit \"http://127.0.0.1:$port/git/none.git\""
expect_eq "missing repository exit" 1 "$rc"
expect_contains "a missing repository names the URL" "http://127.0.0.1:$port/git/none.git" "$err"
echo "ok: a missing repository is an error naming it"
