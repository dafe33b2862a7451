# Extracts the first ```cpp block of README.md, compiles it with the project's warnings
# against include/, and runs it: the README's example must stay true.
file(READ ${SOURCE_DIR}/README.md readme)
string(FIND "${readme}" "```cpp\n" begin)
if(begin EQUAL -1)
  message(FATAL_ERROR "README.md has no ```cpp example")
endif()
math(EXPR begin "${begin} + 7")
string(SUBSTRING "${readme}" ${begin} -1 rest)
string(FIND "${rest}" "```" end)
string(SUBSTRING "${rest}" 0 ${end} code)
file(WRITE ${WORK}/readme_example.cpp "${code}")
execute_process(COMMAND ${CXX} -std=c++20 -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror
                        -I${SOURCE_DIR}/include ${WORK}/readme_example.cpp -o ${WORK}/readme_example
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "README example does not compile:\n${err}")
endif()
execute_process(COMMAND ${WORK}/readme_example RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "README example exited with ${rc}")
endif()
