// weftd: `weftd CONFIG.toml` runs one member of a weft mesh (docs/weftd.md).
// Exit status: 0 after a clean shutdown (SIGINT/SIGTERM), 2 on a bad config or command
// line (one `error:` line on stderr), 1 when the member cannot start.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>

#include "config.hpp"
#include "daemon.hpp"
#include "dashboard_html.hpp"

int main(int argc, char** argv) {
  std::string path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << "usage: weftd [--config] CONFIG.toml\n";
      return 0;
    }
    if (arg == "--config" && i + 1 < argc) path = argv[++i];
    else if (path.empty() && !arg.empty() && arg[0] != '-') path = arg;
    else {
      std::cerr << "error: unknown argument '" << arg << "' (usage: weftd [--config] CONFIG.toml)\n";
      return 2;
    }
  }
  if (path.empty()) {
    std::cerr << "error: no configuration file (usage: weftd [--config] CONFIG.toml)\n";
    return 2;
  }
  weftd::config cfg;
  std::string problem;
  if (!weftd::load_config(path, cfg, problem)) {
    std::cerr << "error: " << problem << "\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io(1);
  std::string page = weftd::dashboard_html_present
                         ? std::string(weftd::dashboard_html, weftd::dashboard_html_size)
                         : std::string("<!doctype html><title>weftd</title><p>The dashboard was not "
                                       "built into this binary. See <a href=\"/status\">/status</a>.");
  weftd::daemon d(io, cfg, std::move(page));
  if (!d.start(problem)) {
    std::cerr << "error: " << problem << "\n";
    return 1;
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  boost::asio::steady_timer guard(io);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    std::cerr << "weftd: member " << cfg.id << " shutting down\n";
    d.shutdown();
    guard.expires_after(std::chrono::seconds(2));  // the bound, whatever is still running
    guard.async_wait([&](const boost::system::error_code& e) { if (!e) io.stop(); });
  });
  std::cerr << "weftd: member " << cfg.id << " serving http://" << cfg.http_address << "/\n";
  io.run();
  return 0;
}
