# module: the module system, hosts, toplevels, build plans, deploy selection.
flakectl_subsystem(module DEPS util lang store flake cache HEADERS module.h)

# Embeds the module system's Nix sources (src/module/nix/*.nix) and the bundled option
# modules (src/module/bundled/*.nix) into the binary as a table of files.
file(GLOB FLAKECTL_MODULE_NIX CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/src/module/nix/*.nix ${CMAKE_SOURCE_DIR}/src/module/bundled/*.nix
     ${CMAKE_SOURCE_DIR}/src/pkg/index.tsv)
set(FLAKECTL_EMBED_OUT ${CMAKE_BINARY_DIR}/generated/module_files.c)
add_custom_command(
  OUTPUT ${FLAKECTL_EMBED_OUT}
  COMMAND ${CMAKE_COMMAND} -DOUT=${FLAKECTL_EMBED_OUT} -DROOT=${CMAKE_SOURCE_DIR}/src/module
          -P ${CMAKE_SOURCE_DIR}/src/module/embed.cmake
  DEPENDS ${FLAKECTL_MODULE_NIX} ${CMAKE_SOURCE_DIR}/src/module/embed.cmake
  COMMENT "Embedding the bundled Nix modules")
target_sources(flakectl_module PRIVATE ${FLAKECTL_EMBED_OUT})
