// Admission (DESIGN.md §9): a flood of connections that never say hello cannot lock players
// out, and per-address caps, when set, refuse what is over them with a reason. Sockets
// still handshaking may take only admission.handshaking_share of the capacity; past it the
// oldest goes (admission_refused), so a player whose hello comes at once still gets in.
#include "../support/fast_config.hpp"
#include "../support/poll_until.hpp"
#include "../support/raw_peer.hpp"
#include "../support/session_log.hpp"

#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <vector>

using namespace lifeline;
using namespace lifeline::test;

namespace {

// A TCP connection that never says anything (a never-hello flood's socket).
class silent_socket {
 public:
  explicit silent_socket(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in from{}, to{};
    from.sin_family = to.sin_family = AF_INET;
    ::inet_pton(AF_INET, "127.0.0.2", &from.sin_addr);  // the flood's own address
    to.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
        ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0)
      throw std::runtime_error("silent_socket: connect failed");
  }
  ~silent_socket() { ::close(fd_); }
  silent_socket(const silent_socket&) = delete;
  silent_socket& operator=(const silent_socket&) = delete;

 private:
  int fd_ = -1;
};

// The close code a refused raw peer reads, if any.
std::optional<close_code> refusal_of(raw_peer& peer) {
  peer.send_frame(hello_frame{.heartbeat_interval = 100ms, .dead_after = 300ms});
  while (auto f = peer.receive(2s)) {
    if (auto* c = std::get_if<close_frame>(&*f)) return c->code;
    if (std::holds_alternative<welcome_frame>(*f)) return std::nullopt;
  }
  return close_code::other;  // neither: the connection just ended
}

}  // namespace

TEST_CASE("a flood of connections that never say hello cannot keep a player out") {
  // Capacity 400 sessions; handshaking sockets may hold a quarter of it (100). The flood
  // opens 500, more than the whole capacity, and says nothing (their handshake timeout is
  // far away); a player arriving after it still gets its welcome, long before that timeout.
  auto config = fast_server(1);
  config.max_sessions = 400;
  config.liveness.handshake_timeout = 30s;
  session_log log;
  server game(config, log.handlers());
  game.start();
  std::vector<std::unique_ptr<silent_socket>> flood;
  for (int i = 0; i < 500; ++i) flood.push_back(std::make_unique<silent_socket>(game.port()));
  const bool dropped = poll_until([&] { return game.stats().total.closes(close_reason::admission_refused) >= 400; }, 10s);
  const auto seen = game.stats().total;
  MESSAGE("open " << seen.sessions_open << ", admission_refused " << seen.closes(close_reason::admission_refused)
                  << ", server_full " << seen.closes(close_reason::server_full));
  REQUIRE(dropped);

  raw_peer player("127.0.0.1", game.port());
  const auto asked = clock::now();
  const auto welcome = player.handshake();
  CHECK(welcome.session_id != 0);
  CHECK(clock::now() - asked < 10s);  // not after the flood's handshakes time out (30 s)
  REQUIRE(log.wait_opened(1));
  const auto stats = game.stats().total;
  CHECK(stats.closes(close_reason::server_full) == 0);
  CHECK(stats.sessions_open <= 101);  // the player and at most the share of silent ones
}

TEST_CASE("a per-address cap refuses the connection over it with admission_refused, and only from that address") {
  auto config = fast_server(1);
  config.admission.max_sessions_per_address = 3;
  config.liveness.heartbeat_interval = 1s;  // the peers here say nothing after their hello
  config.liveness.dead_after = 30s;
  session_log log;
  server game(config, log.handlers());
  game.start();
  std::vector<std::unique_ptr<raw_peer>> from_one;
  for (int i = 0; i < 3; ++i) {
    from_one.push_back(std::make_unique<raw_peer>("127.0.0.1", game.port()));
    from_one.back()->handshake();
  }
  REQUIRE(log.wait_opened(3));
  raw_peer fourth("127.0.0.1", game.port());
  CHECK(refusal_of(fourth) == close_code::admission_refused);
  raw_peer elsewhere("127.0.0.1", game.port(), "127.0.0.2");
  CHECK_FALSE(refusal_of(elsewhere).has_value());  // another address: welcomed
  CHECK(game.stats().total.closes(close_reason::admission_refused) == 1);

  SUBCASE("one of the three quits: room again") { from_one.pop_back(); }
  SUBCASE("one of the three resets (a mobile player dropping): room again too") {
    const linger abort_on_close{1, 0};
    REQUIRE(::setsockopt(from_one.back()->fd(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close) == 0);
    from_one.pop_back();
  }
  REQUIRE(log.wait_closed(1));
  raw_peer again("127.0.0.1", game.port());
  CHECK_FALSE(refusal_of(again).has_value());
}
