# weft log decode, included by run_cli.cmake (uses its expect and run_weft): the stream
# `weft log sample` writes decodes to the expected text; a stream with a damaged frame in
# the middle decodes every intact frame, names the damaged one on stderr and exits 1.
set(log_sample ${WORK}/cli_log_sample.bin)
file(REMOVE ${log_sample})
expect(log_sample 0 "" ARGS log sample ${log_sample})

set(site "\\([^\n]*cmd_log\\.cpp:[0-9]+\\)")
set(log_lines
    "1000000 info \"became leader\" term=1 node=\"n1\" ${site}"
    "6000000 warn \"slow fsync\" duration_ms=12.5 ok=true ${site}"
    "6000000 info \"became leader\" term=2 node=\"n1\" ${site}"
    "11000000 warn \"slow fsync\" duration_ms=25 ok=true ${site}"
    "11000000 info \"became leader\" term=3 node=\"n1\" ${site}"
    "16000000 warn \"slow fsync\" duration_ms=37.5 ok=true ${site}")

# Expected stdout as an anchored regex from log_lines, leaving out line `skip` (-1: none).
function(expected_log_regex skip out_var)
  set(regex "^")
  set(index 0)
  foreach(line IN LISTS log_lines)
    if(NOT index EQUAL skip)
      string(APPEND regex "${line}\n")
    endif()
    math(EXPR index "${index} + 1")
  endforeach()
  set(${out_var} "${regex}$" PARENT_SCOPE)
endfunction()

function(expect_log_decode name file expected_rc skip stderr_regex)
  run_weft(out rc err log decode ${file})
  expected_log_regex(${skip} stdout_regex)
  if(NOT rc EQUAL expected_rc OR NOT out MATCHES "${stdout_regex}" OR NOT err MATCHES "${stderr_regex}")
    message(FATAL_ERROR "${name}: exit ${rc} (expected ${expected_rc})\nstdout: ${out}\nstderr: ${err}")
  endif()
endfunction()

expect_log_decode(log_decode_intact ${log_sample} 0 -1
                  "^6 events, 8 frames, 0 problems, 0 bytes skipped\n$")

# Frame offsets: every F5 7E at an even position of the hex dump (a byte boundary).
file(READ ${log_sample} sample_hex HEX)
set(frame_offsets)
set(from 0)
string(LENGTH "${sample_hex}" hex_length)
while(from LESS hex_length)
  string(SUBSTRING "${sample_hex}" ${from} -1 rest)
  string(FIND "${rest}" "f57e" found)
  if(found EQUAL -1)
    break()
  endif()
  math(EXPR at "${from} + ${found}")
  math(EXPR parity "${at} % 2")
  if(parity EQUAL 0)
    math(EXPR offset "${at} / 2")
    list(APPEND frame_offsets ${offset})
  endif()
  math(EXPR from "${at} + 1")
endwhile()
list(LENGTH frame_offsets frame_count)
if(NOT frame_count EQUAL 8)
  message(FATAL_ERROR "log sample: ${frame_count} frame markers, expected 8 (${frame_offsets})")
endif()

# Frames: 0 registration, 1 event, 2 registration, 3..7 events. Zero two payload bytes of
# frame 4, the third event ("became leader" term=2): its CRC no longer matches.
list(GET frame_offsets 4 damaged_offset)
math(EXPR damaged_payload "${damaged_offset} + 6")
set(damaged ${WORK}/cli_log_damaged.bin)
file(COPY_FILE ${log_sample} ${damaged})
execute_process(COMMAND dd if=/dev/zero of=${damaged} bs=1 seek=${damaged_payload} count=2
                        conv=notrunc status=none RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "dd failed on ${damaged}")
endif()
expect_log_decode(log_decode_damaged ${damaged} 1 2
                  "^warning: offset ${damaged_offset}: [^\n]+\n5 events, 7 frames, 1 problems, [0-9]+ bytes skipped\n$")

# Cut short inside the last frame: five events, the tail reported as truncated.
list(GET frame_offsets 7 last_offset)
math(EXPR cut_size "${last_offset} + 10")
set(cut ${WORK}/cli_log_cut.bin)
file(COPY_FILE ${log_sample} ${cut})
execute_process(COMMAND truncate -s ${cut_size} ${cut} RESULT_VARIABLE rc)
expect_log_decode(log_decode_truncated ${cut} 1 5
                  "^warning: offset ${last_offset}: [^\n]+\n5 events, 7 frames, 1 problems, 10 bytes skipped\n$")

expect(log_decode_missing_file 2 "" ARGS log decode ${WORK}/cli_log_absent.bin STDERR "cli_log_absent")
expect(log_usage 2 "" ARGS log frobnicate)
