# subsystem.cmake - flakectl_subsystem(): one static library per src/<name>/ directory.
#
#   flakectl_subsystem(<name> [DEPS <subsystem>...] [HEADERS <header>...] [LIBS <target>...])
#
# builds every src/<name>/*.c into the static library flakectl_<name>, links it (PUBLIC) to
# flakectl_<dep> for each DEPS entry, and gives it exactly these include paths:
#   - its public headers, include/flakectl/<header> for each HEADERS entry, as
#     "flakectl/<header>" (seen by every subsystem that depends on it, through the link);
#   - its private headers, src/<name>/*.h, as "<name>/<file>.h" (seen by nobody else; unit
#     tests of tests/unit/<name>/ get them too).
# Both are symlink farms under the build directory, so no other directory of the source
# tree is on any include path: an include of a header the graph does not allow fails with
# "No such file or directory". flakectl_check_subsystem_graph() rejects a cycle.

set_property(GLOBAL PROPERTY FLAKECTL_SUBSYSTEMS "")

function(flakectl_subsystem name)
  cmake_parse_arguments(S "" "" "DEPS;HEADERS;LIBS" ${ARGN})
  set(src ${CMAKE_SOURCE_DIR}/src/${name})
  file(GLOB sources CONFIGURE_DEPENDS ${src}/*.c)
  add_library(flakectl_${name} STATIC ${sources})

  set(pub ${CMAKE_BINARY_DIR}/include/${name})
  file(REMOVE_RECURSE ${pub})
  file(MAKE_DIRECTORY ${pub}/flakectl)
  foreach(h ${S_HEADERS})
    if(NOT EXISTS ${CMAKE_SOURCE_DIR}/include/flakectl/${h})
      message(FATAL_ERROR "subsystem ${name}: no public header include/flakectl/${h}")
    endif()
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/include/flakectl/${h} ${pub}/flakectl/${h} SYMBOLIC)
  endforeach()
  set(priv ${CMAKE_BINARY_DIR}/private/${name})
  file(REMOVE_RECURSE ${priv})
  file(MAKE_DIRECTORY ${priv})
  file(CREATE_LINK ${src} ${priv}/${name} SYMBOLIC)

  target_include_directories(flakectl_${name} PUBLIC ${pub} PRIVATE ${priv})
  foreach(d ${S_DEPS})
    target_link_libraries(flakectl_${name} PUBLIC flakectl_${d})
  endforeach()
  if(S_LIBS)
    target_link_libraries(flakectl_${name} PUBLIC ${S_LIBS})
  endif()
  set_property(GLOBAL APPEND PROPERTY FLAKECTL_SUBSYSTEMS ${name})
  set_property(GLOBAL PROPERTY FLAKECTL_DEPS_${name} "${S_DEPS}")
endfunction()

# Depth-first search from every subsystem; a dependency reached again while on the current
# path is a cycle. Unknown dependencies are errors too.
function(_flakectl_visit name path)
  if(name IN_LIST path)
    list(APPEND path ${name})
    string(REPLACE ";" " -> " p "${path}")
    message(FATAL_ERROR "subsystem dependency cycle: ${p} (see docs/ARCHITECTURE.md)")
  endif()
  get_property(all GLOBAL PROPERTY FLAKECTL_SUBSYSTEMS)
  if(NOT name IN_LIST all)
    message(FATAL_ERROR "unknown subsystem '${name}' in DEPS (path: ${path})")
  endif()
  list(APPEND path ${name})
  get_property(deps GLOBAL PROPERTY FLAKECTL_DEPS_${name})
  foreach(d ${deps})
    _flakectl_visit(${d} "${path}")
  endforeach()
endfunction()

function(flakectl_check_subsystem_graph)
  get_property(all GLOBAL PROPERTY FLAKECTL_SUBSYSTEMS)
  foreach(s ${all})
    _flakectl_visit(${s} "")
  endforeach()
endfunction()
