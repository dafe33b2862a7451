weft_add_bench(bench_swim ${CMAKE_CURRENT_SOURCE_DIR}/swim.cpp)
