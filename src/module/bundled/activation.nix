# Built-in options: activation scripts, assertions and warnings.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  script = types.submodule {
    options = {
      deps = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Names of activation scripts that must run before this one.";
      };
      text = mkOption {
        type = types.lines;
        description = "The shell snippet.";
      };
    };
  };
in
{
  options = {
    system.activationScripts = mkOption {
      type = types.attrsOf (types.either types.str script);
      default = { };
      description = "Shell snippets run at activation, ordered by their deps; a string is a script without deps.";
    };
    assertions = mkOption {
      type = types.listOf (types.submodule {
        options = {
          assertion = mkOption {
            type = types.bool;
            description = "Must be true for the host to build.";
          };
          message = mkOption {
            type = types.str;
            description = "Shown when the assertion fails.";
          };
        };
      });
      default = [ ];
      description = "Conditions checked for every host; a false one stops evaluation with its message.";
    };
    warnings = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Messages printed when the host is evaluated.";
    };
  };
}
