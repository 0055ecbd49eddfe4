# The adversarial suite (issue 20, docs/security.md): attacks on activation that must keep
# failing. Each tests/security/NAME.sh runs twice: security_NAME with openat2 where the kernel
# has it, security_NAME_walk with the component walk forced (FLAKECTL_TEST_BENEATH_WALK), so
# both resolvers of src/util/beneath.c face the same attacks.
add_executable(security_racer ${CMAKE_CURRENT_LIST_DIR}/racer.c)

file(GLOB SECURITY_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.sh)
foreach(script ${SECURITY_TESTS})
  get_filename_component(name ${script} NAME_WE)
  foreach(variant "" "_walk")
    set(env ${FLAKECTL_TEST_ENV} "SECURITY_RACER=$<TARGET_FILE:security_racer>")
    if(variant STREQUAL "_walk")
      list(APPEND env "FLAKECTL_TEST_BENEATH_WALK=1")
    endif()
    add_test(NAME security_${name}${variant} COMMAND bash ${script})
    set_tests_properties(security_${name}${variant} PROPERTIES ENVIRONMENT "${env}"
                         SKIP_RETURN_CODE 77 TIMEOUT 600)
  endforeach()
endforeach()
