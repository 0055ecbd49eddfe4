# Built-in options: files under /etc, installed packages, shell environment.
{ lib, host, ... }:
let
  inherit (lib) mkOption types;
  etcFile = types.submodule ({ name, config, ... }: {
    options = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Whether this file is installed.";
      };
      target = mkOption {
        type = types.etcName;
        default = name;
        description = "Path of the file relative to /etc.";
      };
      text = mkOption {
        type = types.nullOr types.lines;
        default = null;
        description = "Text of the file; exclusive with source.";
      };
      source = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "Path of the file's content; exclusive with text.";
      };
      mode = mkOption {
        type = types.str;
        default = "symlink";
        description = ''"symlink" to link through /etc/static, or an octal mode such as "0640" to copy the file.'';
      };
      user = mkOption {
        type = types.str;
        default = "root";
        description = "Owner of a copied file (mode other than symlink).";
      };
      group = mkOption {
        type = types.str;
        default = "root";
        description = "Group of a copied file (mode other than symlink).";
      };
    };
  });
in
{
  options.system.packageManager = mkOption {
    type = types.nullOr (types.enum [ "apt" "dnf" "pacman" "brew" ]);
    default = if host.isDarwin then "brew" else null;
    description = ''
      The manager that installs native packages. null: detected in the root at activation
      (dpkg's status file: apt; an rpm database: dnf; pacman's local database: pacman);
      `flakectl check` then checks the names against apt's column of the index.'';
  };

  options.environment = {
    etc = mkOption {
      type = types.attrsNamed types.etcName etcFile;
      default = { };
      description = "Files to place under /etc, keyed by their path relative to /etc.";
    };
    systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
      description = ''
        Packages for every user: pkgs.<name> from flakectl's package index and pkgs.native
        are installed by the host's package manager (apt, dnf, pacman, Homebrew); store
        packages (pkgs.writeShellScriptBin, runCommand, derivations) are linked into the
        profile's sw/.'';
    };
    variables = mkOption {
      type = types.attrsOf types.str;
      default = { };
      description = "Environment variables set for every login shell (written to /etc/profile.d/flakectl.sh).";
    };
    shellAliases = mkOption {
      type = types.attrsOf types.str;
      default = { };
      description = "Shell aliases for every interactive shell.";
    };
  };
}
