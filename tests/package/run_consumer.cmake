# Builds and runs tests/package/consumer the way a downstream project would.
#   MODE=find_package     install weft to a temporary prefix, then find_package(weft)
#   MODE=add_subdirectory add weft's source tree with add_subdirectory()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

set(consumer_args -DCMAKE_CXX_COMPILER=${CXX} -G ${GENERATOR})
if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} -S ${WEFT_SOURCE} -B ${WORK}/weft-build -G ${GENERATOR}
      -DCMAKE_CXX_COMPILER=${CXX} -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF
      -DWEFT_BUILD_BENCH=OFF -DWEFT_BUILD_FUZZ=OFF -DWEFT_INSTALL=ON
      -DCMAKE_INSTALL_PREFIX=${WORK}/prefix)
  run(${CMAKE_COMMAND} --install ${WORK}/weft-build)
  foreach(f share/cmake/weft/weftConfig.cmake share/cmake/weft/weftConfigVersion.cmake
            share/pkgconfig/weft.pc include/weft/weft.hpp)
    if(NOT EXISTS ${WORK}/prefix/${f})
      message(FATAL_ERROR "install is missing ${f}")
    endif()
  endforeach()
  file(READ ${WORK}/prefix/share/pkgconfig/weft.pc pc)
  if(pc MATCHES "Libs:")
    message(FATAL_ERROR "weft.pc must be Cflags-only")
  endif()
  list(APPEND consumer_args -DCMAKE_PREFIX_PATH=${WORK}/prefix)
else()
  list(APPEND consumer_args -DWEFT_SOURCE=${WEFT_SOURCE})
endif()

run(${CMAKE_COMMAND} -S ${CONSUMER} -B ${WORK}/consumer-build ${consumer_args})
run(${CMAKE_COMMAND} --build ${WORK}/consumer-build)
run(${WORK}/consumer-build/consumer)
message(STATUS "consumer (${MODE}) built and ran")
