# templates.cmake - the init templates as compiled in: src/flake/templates/ plus the files
# the seed shares with the bundled example, made here from the example's own so that the
# two cannot drift apart (docs/init.md). Run with -P:
#   -DSRC=<source tree> -DSTAGE=<scratch directory> -DOUT=<generated .c>
# The seed's modules/server/monitoring.nix is the example's as it is; its flake.nix is the
# example's with one `homelab` host for the two homelab nodes and its own description. A
# change to the example that these edits no longer match stops the build, naming the text.
file(REMOVE_RECURSE ${STAGE})
file(COPY ${SRC}/src/flake/templates/ DESTINATION ${STAGE})
file(COPY ${SRC}/modules/server/monitoring.nix DESTINATION ${STAGE}/seed/modules/server)

file(READ ${SRC}/flake.nix flake)
# swap OLD NEW: replaces the one occurrence of OLD in the example's flake.nix
function(swap old new)
  string(FIND "${flake}" "${old}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "flake.nix (the example) no longer contains\n${old}\n"
                        "update src/flake/templates.cmake, which makes the init seed from it")
  endif()
  string(REPLACE "${old}" "${new}" out "${flake}")
  set(flake "${out}" PARENT_SCOPE)
endfunction()
swap([=[  description = "flakectl example: a two-node homelab, a MacBook and a WSL box";]=]
     [=[  description = "My machines, managed by flakectl";]=])
swap([=[        homelab-node1 = host "homelab-node1" {
          system = "x86_64-linux";
          platform = "nixos";
          modules = [ ./modules/server ];
          tags = [ "server" "homelab" ];
        };
        homelab-node2 = host "homelab-node2" {
          system = "x86_64-linux";
          platform = "nixos";
          modules = [ ./modules/server ];
          tags = [ "server" "homelab" ];
        };
]=] [=[        homelab = host "homelab" {
          system = "x86_64-linux";
          platform = "nixos";
          modules = [ ./modules/server ];
          tags = [ "server" ];
        };
]=])
file(WRITE ${STAGE}/seed/flake.nix "${flake}")

set(ROOT ${STAGE})
set(TREE ON)
set(HEADER flake/templates.h)
set(STRUCT fl_flake_template_file)
set(SYMBOL fl_flake_template_files)
include(${SRC}/src/module/embed.cmake)
