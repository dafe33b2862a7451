weft_add_bench(bench_transport ${CMAKE_CURRENT_SOURCE_DIR}/transport.cpp weft::sodium)
