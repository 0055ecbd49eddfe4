# cli: the command line (parsing and printing only) over every other subsystem.
flakectl_subsystem(cli DEPS util lang store secret remote flake module activate pkg cache pull HEADERS cli.h)

# The shell completion scripts' hand-written halves (src/cli/completion/), compiled in;
# `flakectl completion SHELL` prints one after the data generated from the option tables.
file(GLOB FLAKECTL_COMPLETION_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/cli/completion/*)
set(FLAKECTL_COMPLETION_OUT ${CMAKE_BINARY_DIR}/generated/completion_files.c)
add_custom_command(
  OUTPUT ${FLAKECTL_COMPLETION_OUT}
  COMMAND ${CMAKE_COMMAND} -DOUT=${FLAKECTL_COMPLETION_OUT} -DROOT=${CMAKE_SOURCE_DIR}/src/cli/completion
          -DTREE=ON -DHEADER=cli/completion.h -DSTRUCT=fl_cli_file -DSYMBOL=fl_cli_completion_files
          -P ${CMAKE_SOURCE_DIR}/src/module/embed.cmake
  DEPENDS ${FLAKECTL_COMPLETION_SRC} ${CMAKE_SOURCE_DIR}/src/module/embed.cmake
  COMMENT "Embedding the completion scripts")
target_sources(flakectl_cli PRIVATE ${FLAKECTL_COMPLETION_OUT})

# The three scripts, printed by the built binary and installed where each shell looks for
# them (bash-completion's completions/, zsh's site-functions in $fpath, fish's vendor dir).
set(FLAKECTL_COMPLETIONS ${CMAKE_BINARY_DIR}/completions)
add_custom_command(
  OUTPUT ${FLAKECTL_COMPLETIONS}/flakectl ${FLAKECTL_COMPLETIONS}/_flakectl
         ${FLAKECTL_COMPLETIONS}/flakectl.fish
  COMMAND ${CMAKE_COMMAND} -E make_directory ${FLAKECTL_COMPLETIONS}
  COMMAND sh -c "\"$1\" completion bash >\"$2/flakectl\" && \"$1\" completion zsh >\"$2/_flakectl\" && \"$1\" completion fish >\"$2/flakectl.fish\""
          sh $<TARGET_FILE:flakectl> ${FLAKECTL_COMPLETIONS}
  DEPENDS flakectl
  COMMENT "Writing the shell completion scripts"
  VERBATIM)
add_custom_target(flakectl_completions ALL
  DEPENDS ${FLAKECTL_COMPLETIONS}/flakectl ${FLAKECTL_COMPLETIONS}/_flakectl
          ${FLAKECTL_COMPLETIONS}/flakectl.fish)
install(FILES ${FLAKECTL_COMPLETIONS}/flakectl DESTINATION share/bash-completion/completions)
install(FILES ${FLAKECTL_COMPLETIONS}/_flakectl DESTINATION share/zsh/site-functions)
install(FILES ${FLAKECTL_COMPLETIONS}/flakectl.fish DESTINATION share/fish/vendor_completions.d)
