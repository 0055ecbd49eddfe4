# why.sh - `flakectl why`: for a file, a unit, a package and an option of a flake written
# here (several modules, mkDefault, mkForce, mkBefore/mkAfter, a false mkIf), every
# definition with its file:line:col, priority and order, which one won, the options that
# produced it; --json; and the errors for unknown hosts, paths, units and options.
source "$(dirname "$0")/lib/expect.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache"
export FLAKECTL_STATE_DIR="$work/state"
f="$work/flake"
mkdir -p "$f/modules"
cat >"$f/flake.nix" <<'NIX'
{ outputs = { self, ... }: {
    hosts.web = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./modules/ssh.nix ./modules/base.nix ./host.nix ]; };
  }; }
NIX
cat >"$f/modules/ssh.nix" <<'NIX'
{ config, lib, pkgs, ... }:
let cfg = config.services.openssh; in
{
  options.services.openssh = {
    enable = lib.mkOption { type = lib.types.bool; default = false; description = "Run sshd."; };
    port = lib.mkOption { type = lib.types.port; default = 22; description = "Its port."; };
  };
  config = lib.mkIf cfg.enable {
    environment.etc."ssh/sshd_config".text = "Port ${toString cfg.port}\n";
    systemd.services.sshd = { description = "OpenSSH"; script = "exec sshd -D"; };
    environment.systemPackages = [ pkgs.openssh ];
  };
}
NIX
cat >"$f/modules/base.nix" <<'NIX'
{ lib, pkgs, ... }:
{
  services.openssh.port = lib.mkDefault 2222;
  environment.etc."ssh/sshd_config".text = lib.mkAfter "# base\n";
  environment.etc.motd.text = lib.mkDefault "hello\n";
  environment.systemPackages = [ pkgs.htop ];
  home-manager.users.alice = {
    programs.git = { enable = true; userName = "Alice"; };
    home.file.".gitconfig-extra".text = "x";
  };
}
NIX
cat >"$f/host.nix" <<'NIX'
{ lib, pkgs, ... }:
{
  services.openssh.enable = true;
  services.openssh.port = lib.mkForce 2200;
  environment.etc.motd.text = "welcome\n";
  environment.systemPackages = lib.mkBefore [ pkgs.htop pkgs.jq ];
  networking.hostName = "web";
  # a unit naming a package whose build fails: showing it must not build it
  systemd.services.bad.serviceConfig.ExecStart = "${pkgs.runCommand "never-built" { } "exit 1"}/bin/x";
}
NIX
S="$f/modules/ssh.nix" B="$f/modules/base.nix" H="$f/host.nix"

# --- an option: mkDefault, mkForce and the declaration's default; mkForce won
run_fl --flake "$f" why --host web services.openssh.port
expect_eq "option exit" 0 "$rc"
expect_contains "option value" "services.openssh.port = 2200" "$out"
expect_contains "declared in" "declared in $S:6:5" "$out"
expect_contains "mkDefault lost" "lost  $B:3:3  mkDefault (1000)  2222" "$out"
expect_contains "mkForce won" "won   $H:4:3  mkForce (50)  2200" "$out"
expect_contains "default lost" "lost  $S:6:5  option default (1500)  22" "$out"
expect_eq "one winner" 1 "$(grep -c '^  won ' <<<"$out")"

# --- the same as JSON
run_fl --flake "$f" why --host web --json services.openssh.port
expect_eq "json exit" 0 "$rc"
py='import json,sys; d=json.load(sys.stdin); o=d["options"][0]; w=[x for x in o["definitions"] if x["won"]]
print(d["version"], d["kind"], o["option"], len(w), w[0]["file"], w[0]["line"], w[0]["column"], w[0]["priorityName"])'
expect_eq "json winner" "1 option services.openssh.port 1 $H 4 3 mkForce" "$(python3 -c "$py" <<<"$out")"

# --- a file made by a module under mkIf: both definitions merge (lines), mkAfter orders
# base's last, and the options of the module that made it are named
run_fl --flake "$f" why --host web /etc/ssh/sshd_config
expect_eq "file exit" 0 "$rc"
expect_contains "file kind" "/etc/ssh/sshd_config: file" "$out"
expect_contains "entry" 'environment.etc."ssh/sshd_config" is defined by:' "$out"
expect_contains "merged text" 'environment.etc."ssh/sshd_config".text = "Port 2200\n\n# base\n"' "$out"
expect_contains "ssh.nix's text won" "won   $S:9:5  plain (100)  \"Port 2200\\n\"" "$out"
expect_contains "mkAfter shown" "won   $B:4:3  plain (100), mkAfter (1500)  \"# base\\n\"" "$out"
expect_contains "producer" "made by $S, from services.openssh.*:" "$out"
expect_contains "producer's enable" "won   $H:3:3  plain (100)  true" "$out"

# --- /etc/motd: a plain definition beats mkDefault
run_fl --flake "$f" why --host web /etc/motd
expect_contains "motd plain won" "won   $H:5:3  plain (100)  \"welcome\\n\"" "$out"
expect_contains "motd mkDefault lost" "lost  $B:5:3  mkDefault (1000)  \"hello\\n\"" "$out"

# --- a unit and a package
run_fl --flake "$f" why --host web sshd.service
expect_eq "unit exit" 0 "$rc"
expect_contains "unit entry" "systemd.services.sshd is defined by:" "$out"
expect_contains "unit def" "won   $S:10:5  plain (100)" "$out"
expect_contains "unit producer" "made by $S, from services.openssh.*:" "$out"
run_fl --flake "$f" why --host web htop
expect_eq "package exit" 0 "$rc"
expect_contains "package kind" "htop: package" "$out"
expect_contains "package from base" "won   $B:6:3  plain (100)  [ htop ]" "$out"
expect_contains "package from host, mkBefore" "won   $H:6:3  plain (100), mkBefore (500)  [ htop jq ]" "$out"
run_fl --flake "$f" why --host web openssh
expect_contains "openssh from ssh.nix" "won   $S:11:5  plain (100)" "$out"
expect_contains "openssh producer" "made by $S, from services.openssh.*:" "$out"

# --- home files: declared, and generated from programs.git
run_fl --flake "$f" why --host web '~alice/.gitconfig-extra'
expect_contains "home file" 'home-manager.users.alice.home.file.".gitconfig-extra".text = "x"' "$out"
expect_contains "home file def" "won   $B:9:5" "$out"
run_fl --flake "$f" why --host web /home/alice/.config/git/config
expect_eq "generated exit" 0 "$rc"
expect_contains "generated by" "made by (generated by flakectl), from home-manager.users.alice.programs.git.*:" "$out"
expect_contains "git userName" 'home-manager.users.alice.programs.git.userName = "Alice"' "$out"
run_fl --flake "$f" why --host web /etc/hostname
expect_contains "hostname from networking.hostName" "won   $H:7:3  plain (100)  \"web\"" "$out"

# --- nothing is built to show a value (plan mode)
run_fl --flake "$f" why --host web bad.service
expect_eq "unit with an unbuildable package" 0 "$rc"
expect_contains "its serviceConfig" 'systemd.services.bad.serviceConfig = { ExecStart }' "$out"
expect_eq "nothing built" "" "$(ls "$FLAKECTL_STATE_DIR/store" 2>/dev/null | grep -E -- "-never-built$" || true)"

# --- switched off: the definition under a false mkIf is shown as off, the unit absent
sed -i 's/services.openssh.enable = true;/services.openssh.enable = false;/' "$H"
run_fl --flake "$f" why --host web sshd.service
expect_eq "off unit exit" 0 "$rc"
expect_contains "off unit" "sshd.service: unit (defined, but not enabled)" "$out"
expect_contains "off def" "off   $S:10:5  plain (100), under a false mkIf" "$out"
expect_contains "why it is off" "won   $H:3:3  plain (100)  false" "$out"
sed -i 's/services.openssh.enable = false;/services.openssh.enable = true;/' "$H"

# --- errors name what exists
run_fl --flake "$f" why --host wbe htop
expect_eq "unknown host exit" 1 "$rc"
expect_contains "unknown host" "has no host 'wbe'" "$err"
expect_contains "host did you mean" "did you mean 'web'?" "$err"
run_fl --flake "$f" why --host web /etc/ssh/sshd_confg
expect_eq "unknown file exit" 1 "$rc"
expect_contains "unknown file" "host 'web': no managed file /etc/ssh/sshd_confg" "$err"
expect_contains "file did you mean" "did you mean '/etc/ssh/sshd_config'?" "$err"
run_fl --flake "$f" why --host web /var/lib/x
expect_contains "outside" "flakectl manages files under /etc and the homes of home-manager.users" "$err"
run_fl --flake "$f" why --host web '~bob/.bashrc'
expect_contains "unknown user" "the host manages no home of user 'bob'" "$err"
run_fl --flake "$f" why --host web sshd.servce
expect_contains "unit did you mean" "did you mean 'sshd.service'?" "$err"
run_fl --flake "$f" why --host web nginx.service
expect_contains "unknown unit" "no unit nginx.service" "$err"
expect_contains "units listed" "units: bad.service, sshd.service" "$err"
run_fl --flake "$f" why --host web services.openssh.prt
expect_contains "unknown option" "no option services.openssh.prt" "$err"
expect_contains "option did you mean" "did you mean 'services.openssh.port'?" "$err"
run_fl --flake "$f" why --host web services.openssh
expect_contains "group" "services.openssh is a group of options" "$err"
expect_contains "group lists" "services.openssh.enable, services.openssh.port" "$err"
run_fl --flake "$f" why --host web htp
expect_contains "package did you mean" "did you mean 'htop'?" "$err"
run_fl --flake "$f" why --host web
expect_eq "no target is a usage error" 2 "$rc"
echo "why: ok"
