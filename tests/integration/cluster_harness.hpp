// tests/integration/cluster_harness.hpp - shared helpers for the multi-process weftd
// tests: where the weftd binary is, a loud skip when it (or a tool) is missing, and bounded
// waits. The cluster itself (examples/weft_demo/cluster.hpp) SIGKILLs its members in its
// destructor, so a failing REQUIRE never leaves processes behind.
#pragma once

#include <catch2/catch.hpp>

#include <unistd.h>

#include <string>

#include "../../examples/weft_demo/workload.hpp"

namespace weft_test {

inline std::string weftd_path() { return WEFT_BINARY_DIR "/examples/weftd/weftd"; }

inline bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

/// Returns false (after a loud WARN) when weftd is not built: the caller returns.
inline bool have_weftd() {
  if (executable(weftd_path())) return true;
  WARN("SKIPPED: weftd is not built at " << weftd_path()
                                         << " (needs Boost and toml++: run tools/bootstrap.sh, then build target weftd)");
  return false;
}

inline weft_demo::cluster_options options(bool test_hooks = false) {
  weft_demo::cluster_options o;
  o.weftd_path = weftd_path();
  o.test_hooks = test_hooks;
  o.request_timeout_ms = 2000;
  return o;
}

/// Polls `pred` every 20 ms until it holds or `timeout` passes.
template <class Pred>
bool eventually(std::chrono::milliseconds timeout, Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

inline void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

/// Runs a shell command and returns its exit status (-1 when it could not run).
inline int run_shell(const std::string& command) {
  const int status = std::system(command.c_str());
  if (status == -1 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

/// Checks a history and prints the checker's report on failure.
inline weft::sim::verdict checked(const weft_demo::kv_history& h) {
  const auto result = weft::sim::check(h);
  INFO(result.report);
  CHECK(result.answer != weft::sim::verdict::not_linearizable);
  return result.answer;
}

}  // namespace weft_test
