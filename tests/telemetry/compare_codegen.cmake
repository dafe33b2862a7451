# Proves null_sink compiles to nothing: codegen_subject.cpp is compiled to assembly at -O2
# without instrumentation, with instrumentation under null_sink, and (negative control)
# under a live sink. The instruction lines of `weft_codegen_subject` must be identical for
# the first two (and so must the whole assembly files, bar .file/.ident) and must differ
# for the third. Run by ctest (telemetry_null_sink_codegen):
#   cmake -DCXX=<compiler> -DINCLUDE=<include dir> -DSOURCE=<codegen_subject.cpp>
#         -DWORK=<scratch dir> -P compare_codegen.cmake
cmake_policy(SET CMP0007 NEW)
foreach(var CXX INCLUDE SOURCE WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "compare_codegen.cmake: -D${var}=... is required")
  endif()
endforeach()
file(MAKE_DIRECTORY ${WORK})

function(function_body variant defines out_var)
  set(asm ${WORK}/${variant}.s)
  execute_process(
    COMMAND ${CXX} -std=c++20 -O2 -fno-asynchronous-unwind-tables -S ${defines}
            -I${INCLUDE} ${SOURCE} -o ${asm}
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "compiling ${variant} failed:\n${err}")
  endif()
  file(STRINGS ${asm} lines)
  set(inside FALSE)
  set(body "")
  foreach(line IN LISTS lines)
    if(line MATCHES "^weft_codegen_subject:")
      set(inside TRUE)
    elseif(inside AND (line MATCHES "^[ \t]*\\.size[ \t]+weft_codegen_subject" OR
                       line MATCHES "^[ \t]*\\.cfi_endproc" OR line MATCHES "^\\.Lfunc_end"))
      break()
    elseif(inside)
      string(REGEX REPLACE "[#;].*$" "" line "${line}")   # comments
      string(STRIP "${line}" line)
      if(line STREQUAL "" OR line MATCHES "^\\.")        # directives
        continue()
      endif()
      string(APPEND body "${line}\n")
    endif()
  endforeach()
  if(body STREQUAL "")
    message(FATAL_ERROR "no body found for weft_codegen_subject in ${asm}")
  endif()
  set(${out_var} "${body}" PARENT_SCOPE)
  # The whole translation unit too (no static callsite, no metric object, no TLS emitted).
  list(FILTER lines EXCLUDE REGEX "^[ \t]*\\.(file|ident)")
  set(${out_var}_whole "${lines}" PARENT_SCOPE)
endfunction()

function_body(plain "-DWEFT_CODEGEN_PLAIN" plain)
function_body(null_sink "" null_sink)
function_body(live "-DWEFT_CODEGEN_LIVE" live)

if(NOT plain STREQUAL null_sink)
  message(FATAL_ERROR "null_sink changed the generated code.\n--- plain ---\n${plain}"
                      "--- null_sink ---\n${null_sink}")
endif()
if(NOT plain_whole STREQUAL null_sink_whole)
  message(FATAL_ERROR "null_sink emitted code or data outside the function; diff "
                      "${WORK}/plain.s ${WORK}/null_sink.s")
endif()
if(live STREQUAL plain)
  message(FATAL_ERROR "negative control failed: a live sink produced the plain code, so the "
                      "comparison cannot see instrumentation")
endif()
string(REGEX MATCHALL "\n" plain_lines "${plain}")
list(LENGTH plain_lines plain_count)
string(REGEX MATCHALL "\n" live_lines "${live}")
list(LENGTH live_lines live_count)
message(STATUS "null_sink: ${plain_count} instructions, identical to uninstrumented code; "
               "live sink: ${live_count} instructions")
