# Built-in options: user accounts and groups.
{ lib, host, ... }:
let
  inherit (lib) mkOption types;
  homeBase = if host.isDarwin then "/Users" else "/home";
  user = types.submodule ({ name, config, ... }: {
    options = {
      name = mkOption {
        type = types.passwdName;
        default = name;
        description = "The account's login name.";
      };
      isNormalUser = mkOption {
        type = types.bool;
        default = false;
        description = "A human user: a home directory, a login shell, a uid from 1000 up.";
      };
      isSystemUser = mkOption {
        type = types.bool;
        default = false;
        description = "A system account for a service: no home, uid below 1000.";
      };
      uid = mkOption {
        type = types.nullOr types.accountId;
        default = null;
        description = "The numeric user id; chosen at activation when null and kept afterwards.";
      };
      group = mkOption {
        type = types.passwdName;
        default = if config.isNormalUser then (if host.isDarwin then "staff" else "users") else "nogroup";
        defaultText = lib.literalExpression ''if isNormalUser then (if host.isDarwin then "staff" else "users") else "nogroup"'';
        description = "The primary group.";
      };
      extraGroups = mkOption {
        type = types.listOf types.passwdName;
        default = [ ];
        description = "Supplementary groups.";
      };
      home = mkOption {
        type = types.passwdEntry types.str;
        default = if config.isNormalUser then "${homeBase}/${name}" else "/var/empty";
        description = "The home directory.";
      };
      createHome = mkOption {
        type = types.bool;
        default = config.isNormalUser;
        description = "Whether activation creates the home directory.";
      };
      shell = mkOption {
        type = types.passwdEntry types.str;
        default = if config.isNormalUser then "/bin/bash" else "/usr/sbin/nologin";
        description = "The login shell.";
      };
      description = mkOption {
        type = types.passwdEntry types.str;
        default = "";
        description = "The GECOS field (full name).";
      };
      hashedPassword = mkOption {
        type = types.nullOr (types.passwdEntry types.str);
        default = null;
        description = "A crypt(3) hash for /etc/shadow; null leaves the account locked for password logins.";
      };
      openssh.authorizedKeys.keys = mkOption {
        type = types.listOf types.singleLine;
        default = [ ];
        description = "Public keys written to the user's ~/.ssh/authorized_keys.";
      };
    };
  });
  group = types.submodule ({ name, ... }: {
    options = {
      name = mkOption {
        type = types.passwdName;
        default = name;
        description = "The group's name.";
      };
      gid = mkOption {
        type = types.nullOr types.accountId;
        default = null;
        description = "The numeric group id; chosen at activation when null.";
      };
      members = mkOption {
        type = types.listOf types.passwdName;
        default = [ ];
        description = "Users that are members besides those naming it in extraGroups.";
      };
    };
  });
in
{
  # The groups default primary groups name, with the ids Debian and NixOS give them, so a
  # fresh --root resolves them too.
  config.users.groups = if host.isDarwin then { staff.gid = lib.mkDefault 20; } else {
    users.gid = lib.mkDefault 100;
    nogroup.gid = lib.mkDefault 65534;
    wheel = { };
  };

  options.users = {
    users = mkOption {
      type = types.attrsNamed types.passwdName user;
      default = { };
      description = "User accounts.";
    };
    groups = mkOption {
      type = types.attrsNamed types.passwdName group;
      default = { };
      description = "Groups.";
    };
  };
}
