weft_add_bench(bench_sim ${CMAKE_CURRENT_SOURCE_DIR}/sim.cpp)
