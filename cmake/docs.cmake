# docs.cmake - the pages the built flakectl writes about itself (docs/cli.md): flakectl(1) and
# flakectl-COMMAND(1) from the option parser's tables, flakectl-configuration(5) and
# docs/options.md from the bundled modules' option declarations. Made by every build,
# installed by `cmake --install` into share/man (and docs/ into share/doc/flakectl); `--target options-doc` copies the Markdown
# into the source tree's docs/, which tests/e2e/options_doc.sh checks is current.
include(GNUInstallDirs)

set(FLAKECTL_GEN_DOCS ${CMAKE_BINARY_DIR}/gen-docs)
file(GLOB FLAKECTL_DOC_INPUTS CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/src/cli/*.c ${CMAKE_SOURCE_DIR}/src/module/bundled/*.nix
     ${CMAKE_SOURCE_DIR}/src/module/nix/*.nix)
add_custom_command(
  OUTPUT ${FLAKECTL_GEN_DOCS}/man/man1/flakectl.1
         ${FLAKECTL_GEN_DOCS}/man/man5/flakectl-configuration.5
         ${FLAKECTL_GEN_DOCS}/options.md
  COMMAND ${CMAKE_COMMAND} -DFLAKECTL=$<TARGET_FILE:flakectl> -DOUT=${FLAKECTL_GEN_DOCS}
          -P ${CMAKE_SOURCE_DIR}/cmake/gen-docs.cmake
  DEPENDS flakectl ${FLAKECTL_DOC_INPUTS} ${CMAKE_SOURCE_DIR}/cmake/gen-docs.cmake
  COMMENT "Writing the man pages and the options reference")
add_custom_target(docs ALL DEPENDS ${FLAKECTL_GEN_DOCS}/man/man1/flakectl.1
                                   ${FLAKECTL_GEN_DOCS}/man/man5/flakectl-configuration.5
                                   ${FLAKECTL_GEN_DOCS}/options.md)

# The checked-in reference (docs/options.md) is only ever written by this target.
add_custom_target(options-doc
  COMMAND ${CMAKE_COMMAND} -E copy ${FLAKECTL_GEN_DOCS}/options.md
          ${CMAKE_SOURCE_DIR}/docs/options.md
  DEPENDS docs
  COMMENT "Copying the options reference to docs/options.md")

install(DIRECTORY ${FLAKECTL_GEN_DOCS}/man/ DESTINATION ${CMAKE_INSTALL_MANDIR}
        PATTERN "*.new" EXCLUDE)

# The guide (docs/), which the help texts and so the pages refer to: installed, and the
# pages name it where it is installed (src/cli/man.c rewrites docs/X.md to this directory).
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
target_compile_definitions(flakectl_cli PRIVATE FLAKECTL_DOCDIR="${CMAKE_INSTALL_FULL_DOCDIR}")
