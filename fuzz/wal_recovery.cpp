// fuzz/wal_recovery.cpp - WAL recovery over hostile segment files. The input becomes the
// directory: its first 4096 bytes segment 0, the next 4096 segment 1, and so on (up to 4).
// Recovery must return a typed error or a log whose entries all read back, never crash,
// hang or read out of bounds.
#include <cstddef>
#include <cstdint>

#include "../tests/unit/storage/test_fs.hpp"
#include "weft/storage/wal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace st = weft::storage;
  weft_test::mem_fs fs;
  constexpr std::size_t segment = 4096;
  for (std::size_t i = 0; i < 4 && i * segment < size; ++i) {
    char name[st::detail::segment_name_size + 1];
    st::detail::format_segment_name(i, name);
    const std::size_t n = size - i * segment < segment ? size - i * segment : segment;
    fs.files[name].assign(data + i * segment, data + i * segment + n);
  }
  st::wal_options o;
  o.segment_size_bytes = segment;
  o.max_record_size_bytes = 1024;
  o.write_buffer_size_bytes = 2048;
  o.max_entries = 4096;
  o.max_segments = 8;
  st::wal<weft_test::mem_fs> log(fs, o);
  st::recovery_report report;
  if (!log.open(report)) return 0;
  std::size_t bytes = 0;
  (void)log.read_range(log.first_index(), log.last_index() + 1,
                       [](void* c, const st::log_entry_view& e) noexcept {
                         *static_cast<std::size_t*>(c) += e.payload.size();
                         return true;
                       },
                       &bytes);
  // A recovered log stays writable.
  (void)log.append(log.last_index() + 1, 1, weft::as_bytes("after"));
  (void)log.sync();
  return 0;
}
