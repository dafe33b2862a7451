// bench_cbor - encode and decode throughput of weft's deterministic CBOR, with libcbor and
// nlohmann::json's CBOR functions on the same payloads in the same run:
//   map32  a map of 32 entries, integers and 16-byte byte strings
//   array  an array of 1000 64-byte byte strings
//   raft   {term, index, entries: 64 x {term, index, 64-byte payload}}
// weft encodes into a preallocated buffer and decodes zero-copy into typed structs; the
// peers encode from a prebuilt tree and decode into their own trees (which is what their
// APIs offer). nlohmann objects only have text keys, so its map32/raft maps use the
// decimal key as text. At the end a table gives the medians and weft's speed-up over the
// faster peer. Run: bench_cbor --benchmark_repetitions=5 --benchmark_min_time=0.2
#include <benchmark/benchmark.h>
#include <cbor.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "weft/core/static_vector.hpp"
#include "weft/wire/cbor.hpp"
#include "weft/wire/schema.hpp"

namespace wire = weft::wire;
using json = nlohmann::json;

namespace {

constexpr std::size_t map_entries = 32;
constexpr std::size_t array_items = 1000;
constexpr std::size_t raft_entries = 64;

std::array<std::uint8_t, 64> blob64(std::size_t seed) {
  std::array<std::uint8_t, 64> b{};
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return b;
}

// ---- weft payload types ----------------------------------------------------------------
struct raft_entry {
  std::uint64_t term = 0;
  std::uint64_t index = 0;
  weft::byte_view payload;
  static constexpr void fields(auto& v, auto& self) {
    v(1, self.term);
    v(2, self.index);
    v(3, self.payload);
  }
};
struct raft_message {
  std::uint64_t term = 0;
  std::uint64_t index = 0;
  weft::static_vector<raft_entry, raft_entries> entries;
  static constexpr void fields(auto& v, auto& self) {
    v(1, self.term);
    v(2, self.index);
    v(3, self.entries);
  }
};
// map32: even keys hold integers, odd keys 16-byte byte strings.
struct map32 {
  std::array<std::uint64_t, map_entries / 2> numbers{};
  std::array<std::array<std::uint8_t, 16>, map_entries / 2> blobs{};
};

struct fixtures {
  map32 map;
  std::vector<std::array<std::uint8_t, 64>> array_storage;
  std::vector<weft::byte_view> array;
  std::vector<std::array<std::uint8_t, 64>> raft_storage;
  raft_message raft;
  fixtures() {
    for (std::size_t i = 0; i < map_entries / 2; ++i) {
      map.numbers[i] = 1000003ull * (i + 1) * (i + 1);
      for (std::size_t k = 0; k < 16; ++k) map.blobs[i][k] = static_cast<std::uint8_t>(i + k);
    }
    for (std::size_t i = 0; i < array_items; ++i) array_storage.push_back(blob64(i));
    for (const auto& b : array_storage) array.emplace_back(b);
    raft.term = 42;
    raft.index = 100000;
    for (std::size_t i = 0; i < raft_entries; ++i) raft_storage.push_back(blob64(i + 7));
    for (std::size_t i = 0; i < raft_entries; ++i)
      (void)raft.entries.push_back(raft_entry{42, 100001 + i, raft_storage[i]});
  }
};
const fixtures& data() {
  static const fixtures f;
  return f;
}

weft::result<void> weft_encode_map(wire::cbor_writer& w, const map32& m) {
  WEFT_TRY(w.begin_map(map_entries));
  for (std::size_t i = 0; i < map_entries / 2; ++i) {
    WEFT_TRY(w.put_uint(2 * i));
    WEFT_TRY(w.put_uint(m.numbers[i]));
    WEFT_TRY(w.put_uint(2 * i + 1));
    WEFT_TRY(w.put_bytes(m.blobs[i]));
  }
  return weft::ok();
}

weft::result<void> weft_decode_map(weft::byte_view bytes, map32& m) {
  wire::cbor_reader r(bytes);
  WEFT_TRY_ASSIGN(const wire::cbor_item head, r.next());
  if (head.type != wire::cbor_type::map || head.argument != map_entries)
    return wire::cbor_errc::type_mismatch;
  for (std::size_t i = 0; i < map_entries; ++i) {
    WEFT_TRY_ASSIGN(const wire::cbor_item key, r.next());
    WEFT_TRY_ASSIGN(const wire::cbor_item value, r.next());
    if (key.argument != i) return wire::cbor_errc::unknown_key;
    if (i % 2 == 0) {
      if (value.type != wire::cbor_type::unsigned_int) return wire::cbor_errc::type_mismatch;
      m.numbers[i / 2] = value.argument;
    } else {
      if (value.type != wire::cbor_type::bytes || value.content.size() != 16)
        return wire::cbor_errc::length_mismatch;
      std::copy(value.content.begin(), value.content.end(), m.blobs[i / 2].begin());
    }
  }
  return r.finish();
}

std::vector<std::uint8_t> weft_bytes(int payload) {
  std::vector<std::uint8_t> out(1 << 20);
  weft::byte_writer bytes(out);
  wire::cbor_writer w(bytes);
  bool done = false;
  if (payload == 0) done = weft_encode_map(w, data().map).has_value();
  if (payload == 1) done = wire::encode_to(w, data().array).has_value();
  if (payload == 2) done = wire::encode_to(w, data().raft).has_value();
  if (!done) std::abort();
  out.resize(bytes.size());
  return out;
}

// ---- libcbor ---------------------------------------------------------------------------
cbor_item_t* libcbor_tree(int payload) {
  const auto& d = data();
  if (payload == 0) {
    cbor_item_t* m = cbor_new_definite_map(map_entries);
    for (std::size_t i = 0; i < map_entries / 2; ++i) {
      (void)cbor_map_add(m, {cbor_move(cbor_build_uint8(static_cast<std::uint8_t>(2 * i))),
                             cbor_move(cbor_build_uint64(d.map.numbers[i]))});
      (void)cbor_map_add(m, {cbor_move(cbor_build_uint8(static_cast<std::uint8_t>(2 * i + 1))),
                             cbor_move(cbor_build_bytestring(d.map.blobs[i].data(), 16))});
    }
    return m;
  }
  if (payload == 1) {
    cbor_item_t* a = cbor_new_definite_array(array_items);
    for (const auto& b : d.array) (void)cbor_array_push(a, cbor_move(cbor_build_bytestring(b.data(), b.size())));
    return a;
  }
  cbor_item_t* entries = cbor_new_definite_array(raft_entries);
  for (const auto& e : d.raft.entries) {
    cbor_item_t* m = cbor_new_definite_map(3);
    (void)cbor_map_add(m, {cbor_move(cbor_build_uint8(1)), cbor_move(cbor_build_uint64(e.term))});
    (void)cbor_map_add(m, {cbor_move(cbor_build_uint8(2)), cbor_move(cbor_build_uint64(e.index))});
    (void)cbor_map_add(m, {cbor_move(cbor_build_uint8(3)),
                           cbor_move(cbor_build_bytestring(e.payload.data(), e.payload.size()))});
    (void)cbor_array_push(entries, cbor_move(m));
  }
  cbor_item_t* msg = cbor_new_definite_map(3);
  (void)cbor_map_add(msg, {cbor_move(cbor_build_uint8(1)), cbor_move(cbor_build_uint64(d.raft.term))});
  (void)cbor_map_add(msg, {cbor_move(cbor_build_uint8(2)), cbor_move(cbor_build_uint64(d.raft.index))});
  (void)cbor_map_add(msg, {cbor_move(cbor_build_uint8(3)), cbor_move(entries)});
  return msg;
}

// ---- nlohmann::json ----------------------------------------------------------------------
json nlohmann_tree(int payload) {
  const auto& d = data();
  if (payload == 0) {
    json m = json::object();
    for (std::size_t i = 0; i < map_entries / 2; ++i) {
      m[std::to_string(2 * i)] = d.map.numbers[i];
      m[std::to_string(2 * i + 1)] =
          json::binary(std::vector<std::uint8_t>(d.map.blobs[i].begin(), d.map.blobs[i].end()));
    }
    return m;
  }
  if (payload == 1) {
    json a = json::array();
    for (const auto& b : d.array) a.push_back(json::binary(std::vector<std::uint8_t>(b.begin(), b.end())));
    return a;
  }
  json entries = json::array();
  for (const auto& e : d.raft.entries)
    entries.push_back({{"1", e.term}, {"2", e.index},
                       {"3", json::binary(std::vector<std::uint8_t>(e.payload.begin(), e.payload.end()))}});
  return json{{"1", d.raft.term}, {"2", d.raft.index}, {"3", entries}};
}

const char* payload_names[] = {"map32", "array1000", "raft64"};

// ---- benchmarks --------------------------------------------------------------------------
void weft_encode(benchmark::State& state) {
  const int payload = static_cast<int>(state.range(0));
  std::vector<std::uint8_t> out(1 << 20);
  std::size_t size = 0;
  for (auto _ : state) {
    weft::byte_writer bytes(out);
    wire::cbor_writer w(bytes);
    weft::result<void> r = weft::ok();
    if (payload == 0) r = weft_encode_map(w, data().map);
    else if (payload == 1) r = wire::encode_to(w, data().array);
    else r = wire::encode_to(w, data().raft);
    if (!r) state.SkipWithError("encode failed");
    size = bytes.size();
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
}

void weft_decode(benchmark::State& state) {
  const int payload = static_cast<int>(state.range(0));
  const auto bytes = weft_bytes(payload);
  map32 m;
  weft::static_vector<weft::byte_view, array_items> array;
  raft_message raft;
  for (auto _ : state) {
    bool good = false;
    if (payload == 0) good = weft_decode_map(bytes, m).has_value();
    else if (payload == 1) good = wire::decode_into(bytes, array).has_value();
    else good = wire::decode_into(bytes, raft).has_value();
    if (!good) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(m);
    benchmark::DoNotOptimize(array);
    benchmark::DoNotOptimize(raft);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
}

void libcbor_encode(benchmark::State& state) {
  cbor_item_t* tree = libcbor_tree(static_cast<int>(state.range(0)));
  std::vector<std::uint8_t> out(1 << 20);
  std::size_t size = 0;
  for (auto _ : state) {
    size = cbor_serialize(tree, out.data(), out.size());
    if (size == 0) state.SkipWithError("cbor_serialize failed");
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  cbor_decref(&tree);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
}

void libcbor_decode(benchmark::State& state) {
  const auto bytes = weft_bytes(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    cbor_load_result result;
    cbor_item_t* item = cbor_load(bytes.data(), bytes.size(), &result);
    if (item == nullptr) state.SkipWithError("cbor_load failed");
    benchmark::DoNotOptimize(item);
    cbor_decref(&item);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
}

void nlohmann_encode(benchmark::State& state) {
  const json tree = nlohmann_tree(static_cast<int>(state.range(0)));
  std::vector<std::uint8_t> out;
  out.reserve(1 << 20);
  for (auto _ : state) {
    out.clear();
    json::to_cbor(tree, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}

void nlohmann_decode(benchmark::State& state) {
  const json tree = nlohmann_tree(static_cast<int>(state.range(0)));
  const std::vector<std::uint8_t> bytes = json::to_cbor(tree);
  for (auto _ : state) {
    json decoded = json::from_cbor(bytes, true, false);
    if (decoded.is_discarded()) state.SkipWithError("from_cbor failed");
    benchmark::DoNotOptimize(decoded);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
}

void register_all() {
  struct entry {
    const char* library;
    void (*encode)(benchmark::State&);
    void (*decode)(benchmark::State&);
  };
  const entry libraries[] = {{"weft", weft_encode, weft_decode},
                             {"libcbor", libcbor_encode, libcbor_decode},
                             {"nlohmann", nlohmann_encode, nlohmann_decode}};
  for (int payload = 0; payload < 3; ++payload)
    for (const char* op : {"encode", "decode"})
      for (const auto& l : libraries) {
        const std::string name = std::string(op) + "/" + payload_names[payload] + "/" + l.library;
        benchmark::RegisterBenchmark(name.c_str(), std::string(op) == "encode" ? l.encode : l.decode)
            ->Arg(payload);
      }
}

/// Console output as usual, plus the CPU time per iteration of each benchmark (the median
/// when repetitions are asked for) for the ratio table. CPU time, not wall time: on a
/// shared machine wall time mostly measures the neighbours.
class recording_reporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> ns;
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      const std::string name = run.run_name.function_name;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (median || (run.run_type == Run::RT_Iteration && !ns.count(name)))
        ns[name] = run.GetAdjustedCPUTime();
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  register_all();
  recording_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\n%-8s %-10s %12s %12s %12s %18s\n", "op", "payload", "weft ns", "libcbor ns",
              "nlohmann ns", "weft speed-up");
  std::printf("(CPU ns per operation; speed-up = faster peer / weft)\n");
  for (const char* op : {"encode", "decode"})
    for (const char* payload : payload_names) {
      const std::string base = std::string(op) + "/" + payload + "/";
      const auto find = [&](const char* lib) {
        const auto it = reporter.ns.find(base + lib);
        return it == reporter.ns.end() ? 0.0 : it->second;
      };
      const double w = find("weft"), c = find("libcbor"), n = find("nlohmann");
      if (w <= 0.0 || c <= 0.0 || n <= 0.0) continue;
      std::printf("%-8s %-10s %12.0f %12.0f %12.0f %17.1fx\n", op, payload, w, c, n,
                  std::min(c, n) / w);
    }
  benchmark::Shutdown();
  return 0;
}
