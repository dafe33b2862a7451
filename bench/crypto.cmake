# bench_crypto: COSE sign/verify/encrypt/decrypt against the raw libsodium calls, and the
# RFC 9162 Merkle tree build against raw SHA-256 over the same leaves.
if(TARGET weft::sodium)
  weft_add_bench(bench_crypto ${CMAKE_CURRENT_SOURCE_DIR}/crypto.cpp weft::sodium)
else()
  message(STATUS "weft: bench_crypto needs libsodium; skipped")
endif()
