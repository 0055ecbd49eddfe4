# The fuzz target's corpus, replayed as a plain test (no libFuzzer needed). A real fuzzing
# run: configure with -DCMAKE_C_COMPILER=clang -DFLAKECTL_FUZZ=ON and run ./fuzz_lang
# (see docs/testing.md).
add_executable(fuzz_replay ${CMAKE_CURRENT_LIST_DIR}/replay.c ${CMAKE_CURRENT_LIST_DIR}/fuzz_lang.c)
target_link_libraries(fuzz_replay PRIVATE flakectl_core)
add_test(NAME fuzz_corpus_replay COMMAND fuzz_replay ${CMAKE_CURRENT_LIST_DIR}/corpus)
if(FLAKECTL_FUZZ)
  # The library under test needs coverage instrumentation too, or libFuzzer sees only the
  # few edges of fuzz_lang.c and the run degenerates into random input.
  get_property(subsystems GLOBAL PROPERTY FLAKECTL_SUBSYSTEMS)
  foreach(s ${subsystems})
    target_compile_options(flakectl_${s} PRIVATE -fsanitize=fuzzer-no-link)
  endforeach()
  target_link_options(flakectl_core INTERFACE -fsanitize=fuzzer-no-link)
  add_executable(fuzz_lang ${CMAKE_CURRENT_LIST_DIR}/fuzz_lang.c)
  target_compile_options(fuzz_lang PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz_lang PRIVATE flakectl_core -fsanitize=fuzzer)
endif()
