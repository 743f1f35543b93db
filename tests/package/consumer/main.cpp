// A game server's first contact with lifeline: found with find_package, linked as
// lifeline::core, it encodes and decodes a frame and fires a wheel deadline.
#include <lifeline/frame_decoder.hpp>
#include <lifeline/frame_encoder.hpp>
#include <lifeline/timer_wheel.hpp>

#include <cstdio>

namespace {
bool fired = false;
void on_deadline(void*, lifeline::timer_wheel::time_point) { fired = true; }
}  // namespace

int main() {
  lifeline::frame_encoder encoder;
  lifeline::frame_decoder decoder;
  std::error_code ec;
  decoder.feed(encoder.encode(lifeline::beat_frame{.sent_at = {42}}, ec));
  const auto frame = decoder.next(ec);
  const bool decoded = frame && std::get<lifeline::beat_frame>(*frame).sent_at.microseconds_mod_2_32 == 42;

  const lifeline::timer_wheel::time_point start{};
  lifeline::timer_wheel wheel(start);
  lifeline::timer_entry entry(nullptr, &on_deadline);
  wheel.schedule_at(entry, start + std::chrono::seconds{3});
  wheel.advance(start + std::chrono::seconds{3});

  std::printf("decoded=%d fired=%d\n", decoded, fired);
  return decoded && fired ? 0 : 1;
}
