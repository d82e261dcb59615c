# Runs PROGRAM with ARGS (separated by |) and fails unless it exits with EXPECTED_CODE and
# its output contains EXPECTED_TEXT.
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND ${PROGRAM} ${args} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT code EQUAL EXPECTED_CODE)
  message(FATAL_ERROR "expected exit code ${EXPECTED_CODE}, got ${code}\nstdout: ${out}\nstderr: ${err}")
endif()
string(FIND "${out}${err}" "${EXPECTED_TEXT}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "output lacks '${EXPECTED_TEXT}'\nstdout: ${out}\nstderr: ${err}")
endif()
message(STATUS "exit code ${code}: ${err}")
