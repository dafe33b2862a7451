# bench_cluster: 3 weftd members on loopback with the durable WAL, writes/s and latency.
weft_add_bench(bench_cluster ${CMAKE_CURRENT_SOURCE_DIR}/cluster.cpp Threads::Threads weft::sodium)
