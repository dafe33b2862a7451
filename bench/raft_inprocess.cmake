weft_add_bench(raft_inprocess ${CMAKE_CURRENT_SOURCE_DIR}/raft_inprocess.cpp)
