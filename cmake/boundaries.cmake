# The include boundaries as tests. rw_probe(module header ok|fail) builds a
# one-line file `#include "header"` the way module's own sources are built
# (its folder plus what it links) as a target outside `all`; the ctest test
# include_<module>_<header> builds it and passes when the outcome is the
# expected one. Controls (ok) prove the probe itself builds.
function(rw_probe module header expect)
  if(NOT TARGET rw_${module})
    return()
  endif()
  string(MAKE_C_IDENTIFIER "${module}_${header}" id)
  set(src ${CMAKE_BINARY_DIR}/probes/${id}.c)
  file(CONFIGURE OUTPUT ${src} CONTENT "#include \"${header}\"\nint rw_probe_${id}(void);\nint rw_probe_${id}(void) { return 0; }\n")
  add_library(probe_${id} OBJECT EXCLUDE_FROM_ALL ${src})
  rw_module_dir(dir ${module})
  get_target_property(libs rw_${module} LINK_LIBRARIES)
  target_include_directories(probe_${id} PRIVATE ${dir})
  target_link_libraries(probe_${id} PRIVATE ${libs})
  add_test(NAME include_${id} COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target probe_${id})
  if(expect STREQUAL "fail")
    set_tests_properties(include_${id} PROPERTIES WILL_FAIL TRUE)
  endif()
endfunction()

rw_probe(http engine.h ok)               # a module sees the public header below it
rw_probe(http engine_int.h fail)         # ... never its private one
rw_probe(export engine_int.h fail)
rw_probe(engine storage.h ok)
rw_probe(engine http.h fail)             # nor a header of a module above it
rw_probe(storage engine.h fail)
rw_probe(graph storage.h fail)           # nor one beside it that it does not link
rw_probe(detectors storage.h fail)
rw_probe(detectors graph.h ok)
rw_probe(export http.h fail)
