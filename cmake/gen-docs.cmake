# gen-docs.cmake - run by the `docs` target (cmake/docs.cmake): asks FLAKECTL for its man
# pages and its options reference, into OUT/man/man1, OUT/man/man5 and OUT/options.md.
# The bundled modules unpack into OUT/cache, never into the user's ~/.cache.
set(ENV{XDG_CACHE_HOME} ${OUT}/cache)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${err}")
  endif()
endfunction()

# A page of a removed command must not linger: section 1 is written anew each time.
file(REMOVE_RECURSE ${OUT}/man/man1.new)
run("flakectl help --man" ${FLAKECTL} help --man ${OUT}/man/man1.new)
file(REMOVE_RECURSE ${OUT}/man/man1)
file(RENAME ${OUT}/man/man1.new ${OUT}/man/man1)

file(MAKE_DIRECTORY ${OUT}/man/man5)
run("flakectl option --reference man" ${FLAKECTL} option --reference man
    OUTPUT_FILE ${OUT}/man/man5/flakectl-configuration.5.new)
file(RENAME ${OUT}/man/man5/flakectl-configuration.5.new ${OUT}/man/man5/flakectl-configuration.5)
run("flakectl option --reference markdown" ${FLAKECTL} option --reference markdown
    OUTPUT_FILE ${OUT}/options.md.new)
file(RENAME ${OUT}/options.md.new ${OUT}/options.md)
