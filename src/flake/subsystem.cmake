# flake: finding the flake, its Git tree, inputs and flake.lock.
flakectl_subsystem(flake DEPS util lang store HEADERS flake.h)

# The flakes `flakectl init` writes (src/flake/templates/<name>/), compiled in; the seed's
# flake.nix and monitoring.nix are made from the bundled example's (templates.cmake).
file(GLOB_RECURSE FLAKECTL_TEMPLATE_SRC CONFIGURE_DEPENDS LIST_DIRECTORIES false
     ${CMAKE_SOURCE_DIR}/src/flake/templates/*)
set(FLAKECTL_TEMPLATE_OUT ${CMAKE_BINARY_DIR}/generated/flake_templates.c)
add_custom_command(
  OUTPUT ${FLAKECTL_TEMPLATE_OUT}
  COMMAND ${CMAKE_COMMAND} -DOUT=${FLAKECTL_TEMPLATE_OUT} -DSRC=${CMAKE_SOURCE_DIR}
          -DSTAGE=${CMAKE_BINARY_DIR}/generated/flake_templates
          -P ${CMAKE_SOURCE_DIR}/src/flake/templates.cmake
  DEPENDS ${FLAKECTL_TEMPLATE_SRC} ${CMAKE_SOURCE_DIR}/src/module/embed.cmake
          ${CMAKE_SOURCE_DIR}/src/flake/templates.cmake ${CMAKE_SOURCE_DIR}/flake.nix
          ${CMAKE_SOURCE_DIR}/modules/server/monitoring.nix
  COMMENT "Embedding the init templates")
target_sources(flakectl_flake PRIVATE ${FLAKECTL_TEMPLATE_OUT})
