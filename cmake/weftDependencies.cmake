# Optional third-party packages, all from Debian (tools/bootstrap.sh installs them).
# Each module that needs one tests for its target and skips itself when it is absent.
find_package(PkgConfig QUIET)
find_package(fmt CONFIG QUIET)
find_package(Catch2 CONFIG QUIET)
find_package(rapidcheck CONFIG QUIET)
find_package(benchmark CONFIG QUIET)
find_package(Threads)
if(PkgConfig_FOUND)
  pkg_check_modules(SODIUM QUIET IMPORTED_TARGET libsodium)
  pkg_check_modules(LIBCBOR QUIET IMPORTED_TARGET libcbor)
endif()
find_package(nlohmann_json CONFIG QUIET)
find_package(spdlog CONFIG QUIET)
find_package(RocksDB CONFIG QUIET)
find_package(SQLite3 QUIET)
find_program(PROMTOOL_EXECUTABLE promtool)

# weft::sodium - the libsodium crypto backend (weft/crypto/sodium.hpp).
if(TARGET PkgConfig::SODIUM)
  add_library(weft_sodium INTERFACE)
  add_library(weft::sodium ALIAS weft_sodium)
  target_link_libraries(weft_sodium INTERFACE weft::weft PkgConfig::SODIUM)
endif()
