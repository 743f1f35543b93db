// The frame codec on its hot paths: a heartbeat and a 100-byte game message, encoded
// with a reused encoder and decoded with full verification.
#include <lifeline/frame_decoder.hpp>
#include <lifeline/frame_encoder.hpp>

#include <benchmark/benchmark.h>

#include <vector>

namespace lifeline::bench {
namespace {

frame heartbeat() { return beat_frame{.sent_at = {123456789}, .echo_of_peer = {987654321}, .held_for = std::chrono::microseconds{250}}; }

const std::vector<std::byte> hundred_bytes(100, std::byte{0x5a});
frame game_message() { return data_frame{.payload = hundred_bytes}; }

void encode(benchmark::State& state, frame f) {
  frame_encoder encoder;
  std::error_code ec;
  std::size_t bytes = 0;
  for (auto _ : state) {
    const auto out = encoder.encode(f, ec);
    benchmark::DoNotOptimize(out.data());
    bytes += out.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.counters["frame_bytes"] = static_cast<double>(bytes) / static_cast<double>(state.iterations());
}

void decode_and_verify(benchmark::State& state, frame f) {
  frame_encoder encoder;
  std::error_code ec;
  const auto encoded = encoder.encode(f, ec);
  const std::vector<std::byte> stream(encoded.begin(), encoded.end());
  frame_decoder decoder;
  for (auto _ : state) {
    decoder.feed(stream);
    auto decoded = decoder.next(ec);
    benchmark::DoNotOptimize(decoded);
    if (!decoded) state.SkipWithError("decode failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * static_cast<std::int64_t>(stream.size())));
}

}  // namespace

void register_codec_benchmarks() {
  benchmark::RegisterBenchmark("codec/encode/heartbeat", encode, heartbeat());
  benchmark::RegisterBenchmark("codec/encode/data_100B", encode, game_message());
  benchmark::RegisterBenchmark("codec/decode_verify/heartbeat", decode_and_verify, heartbeat());
  benchmark::RegisterBenchmark("codec/decode_verify/data_100B", decode_and_verify, game_message());
}

}  // namespace lifeline::bench
