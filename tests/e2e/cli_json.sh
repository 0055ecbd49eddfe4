#!/usr/bin/env bash
# cli_json.sh - --json where the output is data: build, diff, dry-activate and option print
# one JSON document on stdout with "version": 1, in the shapes docs/json.md documents
# (checked with jq), and with the same content as the text output of the same command.
source "$FLAKECTL_SRC/tests/e2e/lib/cli-test.bash"
command -v jq >/dev/null || { echo "jq is missing: run scripts/install-deps.sh" >&2; exit 1; }
fl() { "$FLAKECTL" --flake "$T/f" --state-dir "$T/state" --root "$T/root" "$@"; }
# shape FILE JQ-EXPR WHAT: the document satisfies the jq predicate
shape() { jq -e "$2" "$1" >/dev/null || fail "$3: $(cat "$1")"; }
# the marker lines of a text plan ("+ /etc/new"), sorted
text_marks() { grep -E '^    [-+~!] ' "$1" | sed 's/^    //' | sort; }
# the same lines made from a plan document
json_marks() {
    jq -r '
      def m: if . == "add" then "+" elif . == "remove" then "-" elif . == "update" then "~" else "!" end;
      (.accounts[]? | (.change | m) + " " + .text),
      (.files[] | select(.change == "add" or .change == "remove" or .change == "update")
         | (.change | m) + " " + .path + (if .copied then " (copied)" else "" end)),
      (.homes[] | "+ " + .home + "/ (home of " + .user + ")"),
      (.secrets[] | (.change | m) + " " + .name + (if .change == "remove" then "" else " -> " + .path end)),
      (.packages[] | (.change | m) + " " + .name + (if .native then " (native package)" else "" end))
    ' "$1" | sort
}

mkdir -p "$T/root"
cat >"$T/f/host.nix" <<'NIX'
{ pkgs, ... }: {
  environment.etc."app.conf".text = "port = 80\n";
  environment.etc.old.text = "bye\n";
  users.users.alice = { isNormalUser = true; };
  systemd.services.web = { wantedBy = [ "multi-user.target" ]; serviceConfig.ExecStart = "/bin/true"; };
}
NIX
fl switch --host h >/dev/null 2>"$T/e" || { cat "$T/e"; fail "first switch"; exit 1; }
cat >"$T/f/host.nix" <<'NIX'
{ pkgs, ... }: {
  networking.hostName = "h";
  environment.etc."app.conf".text = "port = 8080\n";
  environment.etc.new.text = "hello\n";
  users.users.alice = { isNormalUser = true; shell = "/bin/bash"; };
  users.users.bob = { isNormalUser = true; };
  systemd.services.db = { wantedBy = [ "multi-user.target" ]; serviceConfig.ExecStart = "/bin/true"; };
  environment.systemPackages = [ (pkgs.writeShellScriptBin "hello-tool" "echo hi") ];
  home-manager.users.alice.systemd.user.services.sync = { script = "echo sync"; };
}
NIX

# build: the toplevel the text output prints, and the out-link made absolute
fl build --host h >"$T/build.txt" 2>/dev/null || fail "build"
fl build --host h --json -o "$T/res" >"$T/build.json" 2>/dev/null || fail "build --json"
shape "$T/build.json" '.version == 1 and .host == "h" and (.toplevel | type == "string") and (.outLink | type == "string") and (keys | length == 4)' "build --json shape"
[ "$(jq -r .toplevel "$T/build.json")" = "$(cat "$T/build.txt")" ] || fail "build --json toplevel differs from the text output"
[ "$(jq -r .outLink "$T/build.json")" = "$T/res" ] || fail "build --json outLink: $(jq -r .outLink "$T/build.json")"
[ "$(readlink "$T/res")" = "$(cat "$T/build.txt")" ] || fail "the out-link does not point at the toplevel"
fl build --host h --json --no-link >"$T/nolink.json" 2>/dev/null
shape "$T/nolink.json" '.outLink == null' "build --json --no-link"

# dry-activate: stdout is the plan document alone ("built" and notes go to stderr)
fl dry-activate --host h >"$T/plan.txt" 2>/dev/null || fail "dry-activate"
fl dry-activate --host h --json >"$T/plan.json" 2>"$T/plan.err" || { cat "$T/plan.err"; fail "dry-activate --json"; }
jq . "$T/plan.json" >/dev/null || fail "dry-activate --json is not one JSON document: $(cat "$T/plan.json")"
shape "$T/plan.json" '.version == 1 and (.current | type == "string") and (.to | type == "string") and .root != null
  and ([.accounts, .files, .homes, .secrets, .units, .packages, .scripts, .conflicts] | all(type == "array"))
  and (.daemonReload | type == "boolean")
  and (.files | all(has("path") and has("change") and has("copied") and has("user")))
  and (.units | all(has("action") and has("name") and has("reason")))
  and (.userUnits | type == "array") and .darwin == null and .homebrew == null and .wsl == null' "dry-activate --json shape"
grep -q "^built " "$T/plan.err" || fail "dry-activate --json: 'built' not on stderr"
[ "$(jq -r .to "$T/plan.json")" = "$(cat "$T/build.txt")" ] || fail "plan .to is not the built toplevel"
[ "$(jq -r .current "$T/plan.json")" = "$(sed -n 's/^  current: //p' "$T/plan.txt")" ] || fail "plan .current differs from the text"
[ "$(text_marks "$T/plan.txt" | wc -l)" -ge 6 ] || fail "the plan should list files, accounts and packages: $(cat "$T/plan.txt")"
diff <(text_marks "$T/plan.txt") <(json_marks "$T/plan.json") >"$T/d" || fail "dry-activate: JSON and text list different changes: $(cat "$T/d")"
# the units, verb and name, in the same order
diff <(sed '/^  user units of /,$d' "$T/plan.txt" | grep -E '^    (start|stop|restart|reload|keep) ' | awk '{print $1, $2}') \
     <(jq -r '.units[] | .action + " " + .name' "$T/plan.json") >"$T/d" || fail "units differ: $(cat "$T/d")"
# home-manager users' units (systemctl --user): the same entries as the text's section
shape "$T/plan.json" '.userUnits == [{"user": "alice", "units": [{"action": "start", "name": "sync.service", "reason": .userUnits[0].units[0].reason}], "daemonReload": .userUnits[0].daemonReload}]' "userUnits"
diff <(sed -n '/^  user units of alice /,/^  [^ ]/p' "$T/plan.txt" | grep -E '^    (start|stop|restart|reload|keep) ' | awk '{print $1, $2, "alice"}') \
     <(jq -r '.userUnits[] | .user as $u | .units[] | .action + " " + .name + " " + $u' "$T/plan.json") >"$T/d" ||
  fail "user units differ: $(cat "$T/d")"
[ "$(jq -r '.units | length' "$T/plan.json")" -ge 2 ] || fail "expected db started and web stopped in the plan"
# the file diff is the text's, unindented
jq -r '.files[] | select(.path == "/etc/app.conf") | .diff' "$T/plan.json" >"$T/jdiff"
sed -n '/^      --- a\/etc\/app.conf/,/^    [^ ]/p' "$T/plan.txt" | grep '^      ' | sed 's/^      //' >"$T/tdiff"
diff "$T/tdiff" <(sed '/^$/d' "$T/jdiff") >"$T/d" || fail "app.conf diff differs: $(cat "$T/d")"
grep -q '^+port = 8080$' "$T/jdiff" || fail "the JSON diff lacks the change"

# diff between two generations
fl switch --host h >/dev/null 2>&1 || fail "second switch"
fl diff 1 2 >"$T/diff.txt" || fail "diff"
fl diff 1 2 --json >"$T/diff.json" || fail "diff --json"
shape "$T/diff.json" '.version == 1 and .root == null and (.from | type == "string") and (.to | type == "string") and (has("current") | not)' "diff --json shape"
diff <(text_marks "$T/diff.txt") <(json_marks "$T/diff.json") >"$T/d" || fail "diff: JSON and text list different changes: $(cat "$T/d")"
shape "$T/diff.json" '[.files[] | select(.path == "/etc/old" and .change == "remove")] | length == 1' "diff --json: /etc/old removed"
shape "$T/diff.json" '[.accounts[] | select(.change == "add" and (.text | startswith("user bob")))] | length == 1' "diff --json: bob added"
shape "$T/diff.json" '[.packages[] | select(.change == "add" and (.name | endswith("hello-tool")))] | length == 1' "diff --json: the package"
"$FLAKECTL" --state-dir "$T/state" diff 1 9 --json >"$T/o" 2>"$T/e"
[ $? = 1 ] && [ ! -s "$T/o" ] || fail "diff --json with a missing generation: stdout should be empty"
grep -q "generation 9 does not exist" "$T/e" || fail "diff --json error"

# option: value, type, default, description, declared and defined in, as the text shows them
fl option --host h networking.hostName >"$T/opt.txt" || fail "option"
fl option --host h networking.hostName --json >"$T/opt.json" || fail "option --json"
shape "$T/opt.json" '.version == 1 and .host == "h" and .name == "networking.hostName" and .group == false
  and .value == "h" and (.type | type == "string") and (.description | type == "string")
  and (.declaredIn | type == "string") and (.definedIn | type == "array")' "option --json shape"
section() { awk -v h="$2:" '$0 == h {on=1; next} /^[A-Z][a-z ]*:$/ {on=0} on && /^  / {sub(/^  /, ""); print}' "$1"; }
[ "$(jq -r .valueText "$T/opt.json")" = "$(section "$T/opt.txt" Value)" ] || fail "option value text differs"
[ "$(jq -r .type "$T/opt.json")" = "$(section "$T/opt.txt" Type)" ] || fail "option type differs"
[ "$(jq -r .description "$T/opt.json")" = "$(section "$T/opt.txt" Description)" ] || fail "option description differs"
[ "$(jq -r .declaredIn "$T/opt.json")" = "$(section "$T/opt.txt" 'Declared in')" ] || fail "option declaredIn differs"
[ "$(jq -r '.definedIn[]' "$T/opt.json")" = "$(section "$T/opt.txt" 'Defined in')" ] || fail "option definedIn differs"
[ "$(jq -c .value "$T/opt.json")" = "$(fl eval --host h networking.hostName --json)" ] || fail "option value differs from eval --json"
fl option --host h wsl.enable --json >"$T/undef.json" || fail "option --json wsl.enable"
shape "$T/undef.json" '.definedIn == [] and .value == false and .default == false' "option --json of an option left at its default"
fl option --host h users --json >"$T/grp.json" || fail "option --json of a group"
shape "$T/grp.json" '.group == true and (.children | index("users") != null)' "option --json group shape"
fl option --host h no.such --json >"$T/o" 2>"$T/e"
[ $? = 1 ] && [ ! -s "$T/o" ] || fail "option --json of a missing option should print no JSON"

finish cli_json
