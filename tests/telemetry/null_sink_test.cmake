# Telemetry tests that need more than a globbed executable (included from
# tests/CMakeLists.txt):
# 1. telemetry_null_sink_codegen: null_sink compiles to nothing (compare_codegen.cmake).
# 2. test_unit_telemetry gets the promtool found at configure time (PROMTOOL_EXECUTABLE from
#    cmake/weftDependencies.cmake) as WEFT_PROMTOOL; without it the test WARNs and skips.
add_test(NAME telemetry_null_sink_codegen
  COMMAND ${CMAKE_COMMAND} -DCXX=${CMAKE_CXX_COMPILER} -DINCLUDE=${PROJECT_SOURCE_DIR}/include
          -DSOURCE=${CMAKE_CURRENT_LIST_DIR}/codegen_subject.cpp
          -DWORK=${CMAKE_CURRENT_BINARY_DIR}/telemetry_codegen
          -P ${CMAKE_CURRENT_LIST_DIR}/compare_codegen.cmake)
if(TARGET test_unit_telemetry AND PROMTOOL_EXECUTABLE)
  target_compile_definitions(test_unit_telemetry PRIVATE WEFT_PROMTOOL="${PROMTOOL_EXECUTABLE}")
endif()
