# Runs the `weft` binary as a user would and checks stdout, stderr and the exit status.
#   cmake -DWEFT=<path to weft> -DWORK=<scratch dir> -P run_cli.cmake
function(expect name expected_rc expected_out)
  cmake_parse_arguments(E "" "STDIN;STDERR" "ARGS" ${ARGN})
  set(input_args)
  if(E_STDIN)
    file(WRITE ${WORK}/cli_stdin_${name}.txt "${E_STDIN}")
    set(input_args INPUT_FILE ${WORK}/cli_stdin_${name}.txt)
  endif()
  execute_process(COMMAND ${WEFT} ${E_ARGS} ${input_args}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(STRIP "${out}" out)
  if(NOT rc EQUAL expected_rc)
    message(FATAL_ERROR "${name}: exit ${rc}, expected ${expected_rc}\nstdout: ${out}\nstderr: ${err}")
  endif()
  if(NOT "${expected_out}" STREQUAL "" AND NOT out STREQUAL "${expected_out}")
    message(FATAL_ERROR "${name}: stdout '${out}', expected '${expected_out}'")
  endif()
  if(E_STDERR AND NOT err MATCHES "${E_STDERR}")
    message(FATAL_ERROR "${name}: stderr '${err}' does not match '${E_STDERR}'")
  endif()
  if(expected_rc EQUAL 2)
    string(REGEX MATCHALL "\n" lines "${err}")
    list(LENGTH lines line_count)
    if(NOT err MATCHES "^error: " OR line_count GREATER 1)
      message(FATAL_ERROR "${name}: bad input must give one 'error:' line, got '${err}'")
    endif()
  endif()
endfunction()

expect(version 0 "" ARGS --version)
expect(unknown_command 2 "" ARGS frobnicate)
expect(cbor_decode 0 "{\"a\": 1, \"b\": [2, 3]}" ARGS cbor decode a26161016162820203)
expect(cbor_encode 0 "a26161016162820203" ARGS cbor encode "{\"b\": [2, 3], \"a\": 1}")
expect(cbor_encode_stdin 0 "83010203" ARGS cbor encode - STDIN "[1, 2, 3]\n")
expect(cbor_decode_stdin 0 "[1, 2, 3]" ARGS cbor decode - STDIN "83010203\n")
expect(cbor_decode_float 0 "1.5" ARGS cbor decode f93e00)
expect(cbor_decode_not_shortest 2 "" ARGS cbor decode 1817)
expect(cbor_decode_indefinite 2 "" ARGS cbor decode 9fff)
expect(cbor_decode_trailing 2 "" ARGS cbor decode 0000)
expect(cbor_decode_truncated 2 "" ARGS cbor decode 62)
expect(cbor_decode_odd_hex 2 "" ARGS cbor decode abc)
expect(cbor_encode_bad_diag 2 "" ARGS cbor encode "[1, 2")
expect(cbor_missing_argument 2 "" ARGS cbor decode)

# weft sim: a clean swarm passes, a planted bug is found (exit 1), bad options exit 2.
expect(sim_clean 0 "" ARGS sim --scenario register --seeds 20)
expect(sim_buggy 1 "" ARGS sim --scenario register_buggy --seeds 40)
expect(sim_unknown_scenario 2 "" ARGS sim --scenario no_such_thing --seeds 1 STDERR "no_such_thing")
expect(sim_bad_fault 2 "" ARGS sim --scenario register --seeds 1 --faults loss,bogus STDERR "bogus")
expect(sim_bad_number 2 "" ARGS sim --scenario register --seeds many)
expect(sim_trace_needs_seed 2 "" ARGS sim --scenario register --trace)
# weft sim --scenario swim: crash found by all, no false dead under loss and a pause.
expect(sim_swim 0 "" ARGS sim --scenario swim --seeds 10)
expect(sim_swim_too_many_nodes 2 "" ARGS sim --scenario swim --seeds 1 --nodes 100 STDERR "swim")
expect(sim_swim_no_disks 2 "" ARGS sim --scenario swim --seeds 1 --faults disk_loss STDERR "disk_loss")

# weft wal: a sample log verifies (exit 0) and dumps one line per record; a torn tail is
# reported as repairable (exit 1); a damaged record before the tail is a hard error (exit 2)
# naming the file and offset. Files are damaged with coreutils (dd, truncate).
function(run_weft out_var rc_var err_var)
  execute_process(COMMAND ${WEFT} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(${out_var} "${out}" PARENT_SCOPE)
  set(${rc_var} "${rc}" PARENT_SCOPE)
  set(${err_var} "${err}" PARENT_SCOPE)
endfunction()

function(expect_wal name directory expected_rc stdout_regex stderr_regex)
  run_weft(out rc err wal verify ${directory})
  if(NOT rc EQUAL expected_rc OR NOT out MATCHES "${stdout_regex}" OR NOT err MATCHES "${stderr_regex}")
    message(FATAL_ERROR "${name}: exit ${rc} (expected ${expected_rc})\nstdout: ${out}\nstderr: ${err}")
  endif()
endfunction()

function(damage_copy name source out_var)
  set(target ${WORK}/cli_wal_${name})
  file(REMOVE_RECURSE ${target})
  file(COPY ${source}/ DESTINATION ${target})
  set(${out_var} ${target} PARENT_SCOPE)
endfunction()

function(zero_bytes file offset count)
  execute_process(COMMAND dd if=/dev/zero of=${file} bs=1 seek=${offset} count=${count}
                          conv=notrunc status=none RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "dd failed on ${file}")
  endif()
endfunction()

set(wal_dir ${WORK}/cli_wal_sample)
file(REMOVE_RECURSE ${wal_dir})
expect(wal_sample 0 "" ARGS wal sample ${wal_dir})
expect_wal(wal_verify_intact ${wal_dir} 0 "^5 segments, 126 records, entries 1..98\n$" "^$")
expect(wal_verify_missing_dir 2 "" ARGS wal verify ${WORK}/cli_wal_absent STDERR "cli_wal_absent")
expect(wal_usage 2 "" ARGS wal frobnicate)

run_weft(dump rc err wal dump ${wal_dir})
string(REGEX MATCHALL "[^\n]+" dump_lines "${dump}")
list(LENGTH dump_lines dump_count)
list(GET dump_lines 0 first_line)
list(GET dump_lines -1 last_line)
if(NOT rc EQUAL 0 OR NOT dump_count EQUAL 126 OR NOT first_line STREQUAL
   "wal-0000000000000000.log 64 seq=1 entry index=1 term=1 length=100 payload=0001020304050607..."
   OR NOT dump MATCHES "\nwal-[0-9a-f]+\\.log [0-9]+ seq=[0-9]+ truncate from_index=49\n"
   OR NOT dump MATCHES "\nwal-[0-9a-f]+\\.log [0-9]+ seq=[0-9]+ sync_marker synced_through=[0-9]+\n")
  message(FATAL_ERROR "wal_dump: exit ${rc}, ${dump_count} lines\n${dump}\n${err}")
endif()

# Torn tail: the last record of the last segment cut short.
string(REGEX MATCH "^(wal-[0-9a-f]+\\.log) ([0-9]+) " _ "${last_line}")
set(last_file ${CMAKE_MATCH_1})
set(torn_offset ${CMAKE_MATCH_2})
math(EXPR torn_size "${torn_offset} + 20")
damage_copy(torn ${wal_dir} torn_dir)
execute_process(COMMAND truncate -s ${torn_size} ${torn_dir}/${last_file} RESULT_VARIABLE rc)
expect_wal(wal_verify_torn ${torn_dir} 1 "torn tail: [^\n]*${last_file}:${torn_offset}: [^\n]*repairable" "^$")

# Damage in the middle of a sealed segment: the second record of segment 1.
function(second_record_offset file out_var)
  set(lines ${dump_lines})
  list(FILTER lines INCLUDE REGEX "^${file} ")
  list(GET lines 1 line)
  string(REGEX MATCH "^[^ ]+ ([0-9]+) " _ "${line}")
  if(NOT CMAKE_MATCH_1)
    message(FATAL_ERROR "wal_dump: no second record in ${file}")
  endif()
  set(${out_var} ${CMAKE_MATCH_1} PARENT_SCOPE)
endfunction()
second_record_offset(wal-0000000000000001.log middle_offset)
damage_copy(sealed ${wal_dir} sealed_dir)
zero_bytes(${sealed_dir}/wal-0000000000000001.log ${middle_offset} 4)
expect_wal(wal_verify_sealed ${sealed_dir} 2 "^$"
           "^error: [^\n]*wal-0000000000000001\\.log:${middle_offset}: damaged record in a sealed segment\n$")

# Damage to an early record of the last segment that later synced records prove durable.
second_record_offset(${last_file} early_offset)
damage_copy(durable ${wal_dir} durable_dir)
zero_bytes(${durable_dir}/${last_file} ${early_offset} 4)
expect_wal(wal_verify_durable ${durable_dir} 2 "^$"
           "^error: [^\n]*${last_file}:${early_offset}: damaged record followed by records that prove it was durable\n$")

# A foreign file under a segment's name.
set(foreign_dir ${WORK}/cli_wal_foreign)
file(REMOVE_RECURSE ${foreign_dir})
string(REPEAT "not a weft log " 8 foreign_text)
file(WRITE ${foreign_dir}/wal-0000000000000000.log "${foreign_text}")
expect_wal(wal_verify_foreign ${foreign_dir} 2 "^$" "^error: [^\n]*wal-0000000000000000\\.log:0: unknown magic")

# weft log decode (telemetry): tests/cli/log_decode.cmake
include(${CMAKE_CURRENT_LIST_DIR}/log_decode.cmake)

# weft cose and weft merkle: tests/cli/crypto.cmake
include(${CMAKE_CURRENT_LIST_DIR}/crypto.cmake)

# weft admit: an admin key, then a member key and its admin-signed statement, as files.
file(REMOVE_RECURSE ${WORK}/admit)
file(MAKE_DIRECTORY ${WORK}/admit)
expect(admit_admin 0 "" ARGS admit admin --out ${WORK}/admit)
expect(admit_member 0 "" ARGS admit member --id 2 --admin ${WORK}/admit/admin.seed --out ${WORK}/admit)
foreach(made admin.seed admin.pub member-2.seed member-2.pub member-2.statement)
  if(NOT EXISTS ${WORK}/admit/${made})
    message(FATAL_ERROR "admit: ${made} was not written")
  endif()
endforeach()
file(READ ${WORK}/admit/member-2.seed member_seed)
if(NOT member_seed MATCHES "^[0-9a-f]+\n$")
  message(FATAL_ERROR "admit: member-2.seed is not hex: '${member_seed}'")
endif()
string(LENGTH "${member_seed}" seed_length)
if(NOT seed_length EQUAL 65)
  message(FATAL_ERROR "admit: member-2.seed holds ${seed_length} characters, expected 64 hex digits")
endif()
expect(admit_member_no_admin 2 "" ARGS admit member --id 3 --admin ${WORK}/admit/missing.seed --out ${WORK}/admit)
expect(admit_member_bad_id 2 "" ARGS admit member --id 0 --admin ${WORK}/admit/admin.seed --out ${WORK}/admit)
expect(admit_unknown 2 "" ARGS admit frobnicate)
expect(admit_unknown_option 2 "" ARGS admit admin --out ${WORK}/admit --colour red)
