# Warnings are errors for everything weft builds itself (never imposed on consumers).
add_library(weft_warnings INTERFACE)
target_compile_options(weft_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror
  $<$<CXX_COMPILER_ID:Clang>:-Wno-unknown-warning-option>)
if(WEFT_NO_EXCEPTIONS)
  target_compile_options(weft_warnings INTERFACE -fno-exceptions -fno-rtti)
endif()

# weft_target(<name>): apply the project's standard and warnings to one of its own targets.
function(weft_target name)
  target_link_libraries(${name} PRIVATE weft::weft weft_warnings)
  target_compile_features(${name} PRIVATE cxx_std_20)
endfunction()
