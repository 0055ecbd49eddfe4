# pkg_index.sh - the bundled package index (src/pkg/index.tsv): every line has the shape
# nix/pkgs.nix expects, names are unique and usable on a command line, every entry evaluates
# to a native package through `pkgs`, and every apt name exists in Debian 12's archive
# (apt-cache show against this machine's apt lists; skipped with 77 when it has none).
source "$(dirname "$0")/lib/expect.sh"
index="$FLAKECTL_SRC/src/pkg/index.tsv"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache" FLAKECTL_STATE_DIR="$work/state"

grep -v '^#' "$index" | grep -v '^$' >"$work/entries"
n=$(wc -l <"$work/entries")
[ "$n" -ge 300 ] || fail "the index has $n entries, fewer than 300"
bad=$(awk -F'\t' 'NF != 5 { print NR": "$0 }' "$work/entries")
expect_eq "five tab-separated columns on every line" "" "$bad"
expect_eq "attribute names are unique" "" "$(cut -f1 "$work/entries" | sort | uniq -d)"
expect_eq "attribute names are plain Nix identifiers" "" \
  "$(cut -f1 "$work/entries" | grep -Ev '^[A-Za-z_][A-Za-z0-9_-]*$' || true)"
expect_eq "manager names are one safe word, '=' or '-'" "" \
  "$(cut -f2-5 "$work/entries" | tr '\t' '\n' | grep -Ev '^(=|-|[A-Za-z0-9@+._][A-Za-z0-9@+._:=~/-]*)$' || true)"
expect_eq "the header says where each manager's names come from" "4" \
  "$(grep -cE '^#   (apt|dnf|pacman|brew) ' "$index")"

# Through the language: pkgs.<name> for every entry, the "=" and "-" columns resolved.
mkdir -p "$work/flake"
cat >"$work/flake/flake.nix" <<'NIX'
{ outputs = { self, ... }: { hosts.h = { system = "x86_64-linux"; modules = [ ({ pkgs, ... }: {
    environment.etc."index.json".text = builtins.toJSON (builtins.mapAttrs (n: p: p.native)
      (builtins.removeAttrs pkgs [ "native" "system" "writeTextFile" "writeText" "writeTextDir" "writeScript"
        "writeScriptBin" "writeShellScript" "writeShellScriptBin" "runCommand" "symlinkJoin"
        "fetchurl" "installBinary" ]));
  }) ]; }; }; }
NIX
run_fl --flake "$work/flake" eval --host h 'environment.etc."index.json".text' --json
[ "$rc" = 0 ] || { echo "$err" >&2; fail "evaluating the index through pkgs"; }
json=$(printf '%s' "$out" | jq -r 'if type == "string" then . else tojson end')
expect_eq "pkgs has every entry" "$n" "$(printf '%s' "$json" | jq 'length')"
expect_eq "fd is fd-find on apt" '"fd-find"' "$(printf '%s' "$json" | jq '.fd.apt')"
expect_eq "'=' is the attribute name" '"ripgrep"' "$(printf '%s' "$json" | jq '.ripgrep.pacman')"
expect_eq "'-' is null" 'null' "$(printf '%s' "$json" | jq '.python312.apt')"
expect_eq "python311 on brew" '"python@3.11"' "$(printf '%s' "$json" | jq '.python311.brew')"

# apt names against the archive
if ! command -v apt-cache >/dev/null || ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
  echo "skip: no apt lists on this machine (run apt-get update) - the shape checks passed"
  exit 77
fi
awk -F'\t' '{ a = ($2 == "=") ? $1 : $2; if (a != "-") print a }' "$work/entries" | sort -u >"$work/apt"
xargs apt-cache show --no-all-versions <"$work/apt" 2>/dev/null | sed -n 's/^Package: //p' | sort -u >"$work/found"
expect_eq "every apt name is in Debian's archive" "" "$(comm -23 "$work/apt" "$work/found" | tr '\n' ' ')"
echo "ok: $n entries, $(wc -l <"$work/apt") apt names found"
