// weftd: `weftd CONFIG.toml` runs one member of a weft mesh (docs/weftd.md).
// Exit status: 0 after a clean shutdown (SIGINT/SIGTERM), 2 on a bad config or command
// line (one `error:` line on stderr), 1 when the member cannot start.
namespace weftd {
int run(int argc, char** argv);
}

int main(int argc, char** argv) { return weftd::run(argc, argv); }
