# bench_cbor: weft's deterministic CBOR against libcbor and nlohmann::json (to_cbor/from_cbor).
if(TARGET PkgConfig::LIBCBOR AND TARGET nlohmann_json::nlohmann_json)
  weft_add_bench(bench_cbor ${CMAKE_CURRENT_SOURCE_DIR}/cbor.cpp PkgConfig::LIBCBOR
                 nlohmann_json::nlohmann_json)
else()
  message(STATUS "weft: bench_cbor needs libcbor and nlohmann_json; skipped")
endif()
