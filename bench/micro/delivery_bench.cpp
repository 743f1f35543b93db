// What poll mode costs per message (session_event.hpp), against calling the game's
// handler on the shard's thread, as callback mode does:
//   callback         a std::function call with the message's view (callback mode)
//   poll_same_thread append the event record (a copy of the message) and take it back
//                    through poll's path, one thread: the instructions alone
//   poll_two_threads a producer thread appends as fast as it can while this thread
//                    polls: the instructions plus the cache lines moving between cores
// 100-byte messages, as codec_bench's game message.
#include "event_queue.hpp"
#include "event_record.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

namespace lifeline::bench {
namespace {

const std::vector<std::byte> hundred_bytes(100, std::byte{0x5a});

session_event message_event() {
  session_event e;
  e.kind = event_kind::message;
  e.id = session_id::make(0, 1, 42);
  e.message = hundred_bytes;
  return e;
}

void callback(benchmark::State& state) {
  std::size_t seen = 0;
  const std::function<void(session_id, std::span<const std::byte>)> handler = [&](session_id, std::span<const std::byte> m) {
    seen += m.size();
  };
  const auto id = session_id::make(0, 1, 42);
  for (auto _ : state) {
    handler(id, hundred_bytes);
    benchmark::DoNotOptimize(seen);
  }
  state.SetItemsProcessed(state.iterations());
}

void poll_same_thread(benchmark::State& state) {
  detail::event_queue queue;
  const auto event = message_event();
  std::size_t seen = 0;
  constexpr std::size_t batch = 256;
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch; ++i) detail::append_event(queue, event);
    queue.consume(batch, [&](std::span<const std::byte> record) { seen += detail::read_event(record).message.size(); });
    benchmark::DoNotOptimize(seen);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}

void poll_two_threads(benchmark::State& state) {
  detail::event_queue queue;
  std::atomic<bool> producing{true};
  std::thread producer([&] {
    const auto event = message_event();
    // Stay a bounded distance ahead, as the backlog limit keeps a real shard.
    while (producing.load(std::memory_order_relaxed))
      if (queue.bytes_held() < 4 * 1024 * 1024) detail::append_event(queue, event);
  });
  std::size_t taken = 0, seen = 0;
  for (auto _ : state) {
    taken += queue.consume(256, [&](std::span<const std::byte> record) { seen += detail::read_event(record).message.size(); });
    benchmark::DoNotOptimize(seen);
  }
  producing = false;
  producer.join();
  state.SetItemsProcessed(static_cast<std::int64_t>(taken));
}

}  // namespace

void register_delivery_benchmarks() {
  benchmark::RegisterBenchmark("delivery/callback", callback);
  benchmark::RegisterBenchmark("delivery/poll_same_thread", poll_same_thread);
  benchmark::RegisterBenchmark("delivery/poll_two_threads", poll_two_threads)->UseRealTime();
}

}  // namespace lifeline::bench
