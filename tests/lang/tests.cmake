# The language conformance suite (tests/lang/README in docs/testing.md).
#   lang_conformance      run.sh against the real flakectl binary: every case's output,
#                         exit status and error location.
#   lang_recheck          the committed expectations still equal nix-instantiate's output
#                         (skipped, not passed, when nix-instantiate is missing).
#   lang_runner_selftest  run.sh itself detects failures (drives it with nix-as-flakectl.sh
#                         and with deliberately broken copies of cases); tests the runner,
#                         never flakectl.
add_test(NAME lang_conformance COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run.sh)
set_tests_properties(lang_conformance PROPERTIES ENVIRONMENT "${FLAKECTL_TEST_ENV}" TIMEOUT 1800)

# Neither depends on how flakectl is built: registered in the plain build only, so the
# sanitizer build does not run nix-instantiate over the whole corpus a second time.
if(NOT FLAKECTL_SANITIZE)
  add_test(NAME lang_recheck COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/recheck.sh)
  set_tests_properties(lang_recheck PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 1800)

  add_test(NAME lang_runner_selftest COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/selftest.sh)
  set_tests_properties(lang_runner_selftest PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 1800)
endif()

# builtins.match/split on 2400 seeded random patterns against the live nix-instantiate (spans and
# groups follow libstdc++, not glibc: src/lang/regex.c). Both builds: the sanitizer build
# checks regex.c's memory use on the same inputs. Skipped, not passed, without nix-instantiate.
add_test(NAME lang_regex_differential
         COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/regex_differential.py $<TARGET_FILE:flakectl> 1200)
set_tests_properties(lang_regex_differential PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 1200)

# Programs whose result depends on Nix's symbol order (formals filled, let slots shared,
# attributes forced), seeded and random, against the live nix-instantiate.
if(NOT FLAKECTL_SANITIZE)
  add_test(NAME lang_symbol_order_differential
           COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/symbol_order_differential.py $<TARGET_FILE:flakectl> 40)
  set_tests_properties(lang_symbol_order_differential PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
endif()

# Seeded random well-typed expressions (about 40 builtins, let, lambdas, with, floats),
# printed plain and as --json, against the live nix-instantiate.
if(NOT FLAKECTL_SANITIZE)
  add_test(NAME lang_expr_differential
           COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/expr_differential.py $<TARGET_FILE:flakectl> 60)
  set_tests_properties(lang_expr_differential PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
endif()

# Features that need files, options or the environment (<name> through -I and NIX_PATH, toXML,
# scopedImport, filterSource, builtins.path, fetchers of file:// URLs, ...), case by case
# against the live nix-instantiate.
if(NOT FLAKECTL_SANITIZE)
  add_test(NAME lang_features_differential
           COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/features_differential.py $<TARGET_FILE:flakectl>)
  set_tests_properties(lang_features_differential PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
endif()

# --show-trace's layout (frames, their order, wording and source lines) byte for byte against
# nix-instantiate's on erroring programs.
if(NOT FLAKECTL_SANITIZE)
  add_test(NAME lang_trace_differential
           COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/trace_differential.py $<TARGET_FILE:flakectl>)
  set_tests_properties(lang_trace_differential PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
endif()

# nixpkgs' lib with its own tests beside nix-instantiate: needs a checkout named by
# NIXPKGS_LIB_CHECKOUT (CI cannot reach GitHub), else skipped (77) saying so.
add_test(NAME lang_realworld COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/realworld.sh)
set_tests_properties(lang_realworld PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 3600
                     ENVIRONMENT "FLAKECTL=$<TARGET_FILE:flakectl>")

# builtins.fromJSON on seeded random valid and broken JSON texts: values and nlohmann's error
# messages against the live nix-instantiate. Both builds (the sanitizer build checks json.c).
add_test(NAME lang_json_differential
         COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/json_differential.py $<TARGET_FILE:flakectl> 200)
set_tests_properties(lang_json_differential PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)

# Every builtin and construct that takes a string, given each kind of value a string may be
# coerced from (sets with outPath or __toString, paths, derivations, strings with context) and
# values that are not strings, against the live nix-instantiate.
if(NOT FLAKECTL_SANITIZE)
  add_test(NAME lang_coerce_differential
           COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/coerce_differential.py $<TARGET_FILE:flakectl>)
  set_tests_properties(lang_coerce_differential PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
endif()

# Seeded random programs that grow strings from each other and read them back through
# builtins that take C strings (the shared string buffers of docs/language.md, "String
# storage"), against the live nix-instantiate. Both builds: the sanitizer build checks the
# in-place appends.
add_test(NAME lang_string_share_differential
         COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/string_share_differential.py $<TARGET_FILE:flakectl> 300)
set_tests_properties(lang_string_share_differential PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
