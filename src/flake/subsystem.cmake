# flake: finding the flake, its Git tree, inputs and flake.lock.
flakectl_subsystem(flake DEPS util lang store HEADERS flake.h)

# The flakes `flakectl init` writes (src/flake/templates/<name>/), compiled in.
file(GLOB_RECURSE FLAKECTL_TEMPLATE_SRC CONFIGURE_DEPENDS LIST_DIRECTORIES false
     ${CMAKE_SOURCE_DIR}/src/flake/templates/*)
set(FLAKECTL_TEMPLATE_OUT ${CMAKE_BINARY_DIR}/generated/flake_templates.c)
add_custom_command(
  OUTPUT ${FLAKECTL_TEMPLATE_OUT}
  COMMAND ${CMAKE_COMMAND} -DOUT=${FLAKECTL_TEMPLATE_OUT} -DROOT=${CMAKE_SOURCE_DIR}/src/flake/templates
          -DTREE=ON -DHEADER=flake/templates.h -DSTRUCT=fl_flake_template_file
          -DSYMBOL=fl_flake_template_files -P ${CMAKE_SOURCE_DIR}/src/module/embed.cmake
  DEPENDS ${FLAKECTL_TEMPLATE_SRC} ${CMAKE_SOURCE_DIR}/src/module/embed.cmake
  COMMENT "Embedding the init templates")
target_sources(flakectl_flake PRIVATE ${FLAKECTL_TEMPLATE_OUT})
