// Session ids never alias in practice (session_id.hpp): slots come back first-in-first-out
// behind a reserve of 1,024 always-free slots, and each reuse advances a 32-bit generation.
#include "session_slots.hpp"

#include <doctest/doctest.h>

#include <deque>
#include <set>

using lifeline::session_id;
using lifeline::detail::session_slots;

namespace {
// A session closes (retire) and is later reclaimed (release).
void end(session_slots& slots, session_id id) {
  slots.retire(id);
  slots.release(id);
}
}  // namespace

TEST_CASE("a session id keeps its shard, generation and slot in 8 | 32 | 24 bits") {
  const auto id = session_id::make(0xAB, 0xFFFFFFFFu, session_id::max_slot);
  CHECK(id.shard() == 0xAB);
  CHECK(id.generation() == 0xFFFFFFFFu);
  CHECK(id.slot() == session_id::max_slot);
  CHECK(session_id::make(0, 1, 0));  // never 0
}

TEST_CASE("under churn no session id is ever issued twice") {
  session_slots slots(3, 10);  // 10 usable, 1,034 in all
  CHECK(slots.capacity() == 10 + session_slots::reserve);
  std::deque<session_id> live;
  std::set<std::uint64_t> issued;
  // Churn: hold up to 10 sessions, close the oldest, open a new one, 100,000 times.
  for (int i = 0; i < 100'000; ++i) {
    if (live.size() == 10) {
      end(slots, live.front());
      live.pop_front();
    }
    const auto id = slots.acquire();
    REQUIRE(id.has_value());
    CHECK(id->shard() == 3);
    CHECK(id->generation() != 0);
    REQUIRE(issued.insert(id->value).second);  // no id is ever issued twice
    live.push_back(*id);
  }
}

TEST_CASE("the same slot comes back only after at least the reserve of other closes") {
  session_slots slots(0, 1);  // the worst case: one usable slot, churning
  auto first = slots.acquire();
  REQUIRE(first.has_value());
  CHECK_FALSE(slots.acquire().has_value());  // one usable: full
  end(slots, *first);
  std::size_t closes = 0;
  for (;;) {
    const auto id = slots.acquire();
    REQUIRE(id.has_value());
    if (id->slot() == first->slot()) {
      CHECK(id->generation() == first->generation() + 1);
      break;
    }
    end(slots, *id);
    ++closes;
  }
  CHECK(closes >= session_slots::reserve);
}

TEST_CASE("more usable slots than a shard can address are refused, naming max_sessions") {
  CHECK_THROWS_WITH_AS(session_slots(0, std::size_t{session_id::max_slot} + 1),
                       doctest::Contains("max_sessions"), std::invalid_argument);
}

TEST_CASE("a closed session stops counting against the usable slots at once, before its slot comes back") {
  session_slots slots(0, 1);
  const auto first = slots.acquire();
  REQUIRE(first.has_value());
  CHECK_FALSE(slots.acquire().has_value());
  slots.retire(*first);                  // closed, its handlers still pending
  const auto second = slots.acquire();   // room for one more live session already
  REQUIRE(second.has_value());
  CHECK(second->slot() != first->slot());  // but not in the slot still held
  slots.release(*first);
  CHECK(slots.in_use() == 1);
}
