# Built-in options: age-encrypted secrets decrypted at activation.
{ lib, ... }:
let
  inherit (lib) mkOption types;
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
    identityPaths = mkOption {
      type = types.listOf types.str;
      default = [ "/etc/ssh/ssh_host_ed25519_key" ];
      description = "Private keys tried, in order, to decrypt the secrets.";
    };
  };
}
