# bench_telemetry: weft counters, histograms and log sinks, side by side with spdlog.
if(TARGET spdlog::spdlog)
  weft_add_bench(bench_telemetry ${CMAKE_CURRENT_SOURCE_DIR}/telemetry.cpp spdlog::spdlog fmt::fmt Threads::Threads)
endif()
