# Built-in options: age-encrypted secrets decrypted at activation.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  template = types.submodule ({ name, ... }: {
    options = {
      name = mkOption {
        type = types.str;
        default = name;
        description = "The template's name; the file name under /run/flakectl/secrets/rendered.";
      };
      content = mkOption {
        type = types.str;
        description = ''
          The file's text, with config.age.placeholder.<secret> where a secret's plaintext goes.
          Only the placeholders reach the store; activation renders the file.
        '';
      };
      path = mkOption {
        type = types.str;
        default = "/run/flakectl/secrets/rendered/${name}";
        description = "Where the rendered file appears.";
      };
      owner = mkOption { type = types.str; default = "root"; description = "Owner of the rendered file."; };
      group = mkOption { type = types.str; default = "root"; description = "Group of the rendered file."; };
      mode = mkOption { type = types.str; default = "0400"; description = "Octal mode of the rendered file."; };
      restartUnits = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Units restarted when the rendered text changes.";
      };
      reloadUnits = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Units reloaded when the rendered text changes.";
      };
    };
  });
  secret = types.submodule ({ name, ... }: {
    options = {
      name = mkOption {
        type = types.str;
        default = name;
        description = "The secret's name; the default file name under /run/flakectl/secrets.";
      };
      file = mkOption {
        type = types.path;
        description = "The age-encrypted file (it is copied into the store encrypted).";
      };
      path = mkOption {
        type = types.str;
        default = "/run/flakectl/secrets/${name}";
        description = "Where the plaintext appears.";
      };
      owner = mkOption {
        type = types.str;
        default = "root";
        description = "Owner of the plaintext file.";
      };
      group = mkOption {
        type = types.str;
        default = "root";
        description = "Group of the plaintext file.";
      };
      mode = mkOption {
        type = types.str;
        default = "0400";
        description = "Octal mode of the plaintext file.";
      };
      restartUnits = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Units restarted when the plaintext changes.";
      };
      reloadUnits = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Units reloaded when the plaintext changes.";
      };
    };
  });
in
{
  options.age = {
    secrets = mkOption {
      type = types.attrsOf secret;
      default = { };
      description = "Secrets to decrypt at activation.";
    };
    templates = mkOption {
      type = types.attrsOf template;
      default = { };
      description = "Files rendered at activation with secrets put in place of their placeholders.";
    };
    placeholder = mkOption {
      type = types.attrsOf types.str;
      default = lib.mapAttrs (n: _: "<flakectl-age:${n}>") config.age.secrets;
      description = "For each secret, the text a template uses where its plaintext goes (read-only).";
    };
    hostPublicKey = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = ''
        This host's public key (its ssh host key's "ssh-ed25519 AAAA…", or "age1…"). When set,
        `flakectl check` verifies that every secret of the host lists it among the file's
        publicKeys in secrets/secrets.nix, so a host that could not decrypt a secret is caught
        before activation.
      '';
    };
    identityPaths = mkOption {
      type = types.listOf types.str;
      default = [ "/etc/ssh/ssh_host_ed25519_key" ];
      description = "Private keys tried, in order, to decrypt the secrets.";
    };
  };
}
