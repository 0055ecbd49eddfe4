# The fuzz targets' corpora, replayed as plain tests (no libFuzzer needed). A real fuzzing
# run: configure with -DCMAKE_C_COMPILER=clang -DFLAKECTL_FUZZ=ON and run ./fuzz_<target>
# (see docs/testing.md). Targets: lang (parser and evaluator, no files), formats (fromJSON,
# fromTOML, .gitmodules), fs (the builtins that read files and fetch, in a sandbox).
set(FLAKECTL_FUZZ_TARGETS lang formats fs)
if(FLAKECTL_FUZZ)
  # The library under test needs coverage instrumentation too, or libFuzzer sees only the
  # few edges of the target and the run degenerates into random input.
  get_property(subsystems GLOBAL PROPERTY FLAKECTL_SUBSYSTEMS)
  foreach(s ${subsystems})
    target_compile_options(flakectl_${s} PRIVATE -fsanitize=fuzzer-no-link)
  endforeach()
  target_link_options(flakectl_core INTERFACE -fsanitize=fuzzer-no-link)
endif()
foreach(t ${FLAKECTL_FUZZ_TARGETS})
  add_executable(fuzz_replay_${t} ${CMAKE_CURRENT_LIST_DIR}/replay.c
                                  ${CMAKE_CURRENT_LIST_DIR}/fuzz_${t}.c)
  target_link_libraries(fuzz_replay_${t} PRIVATE flakectl_core)
  if(FLAKECTL_FUZZ)
    add_executable(fuzz_${t} ${CMAKE_CURRENT_LIST_DIR}/fuzz_${t}.c)
    target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz_${t} PRIVATE flakectl_core -fsanitize=fuzzer)
  endif()
endforeach()
# the lang corpus keeps its historical test name
add_test(NAME fuzz_corpus_replay COMMAND fuzz_replay_lang ${CMAKE_CURRENT_LIST_DIR}/corpus)
add_test(NAME fuzz_corpus_replay_formats
         COMMAND fuzz_replay_formats ${CMAKE_CURRENT_LIST_DIR}/corpus-formats)
add_test(NAME fuzz_corpus_replay_fs COMMAND fuzz_replay_fs ${CMAKE_CURRENT_LIST_DIR}/corpus-fs)
# the suppressions of third-party leaks (tests/lsan.supp: libgit2's clones leak pcre2 match
# data) apply here as to every test
set_tests_properties(fuzz_corpus_replay fuzz_corpus_replay_formats fuzz_corpus_replay_fs
                     PROPERTIES ENVIRONMENT "${FLAKECTL_TEST_ENV}")
