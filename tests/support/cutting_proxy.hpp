// A loopback TCP proxy that kills its connections the ways a network does, for the resume
// tests: a transport dies mid-stream while both ends keep their sessions.
//
//   cutting_proxy proxy(server.port());                  // listens on 127.0.0.1:proxy.port()
//   client.connect({.address = "127.0.0.1", .port = proxy.port()});
//   proxy.cut(cut_kind::reset);                          // every connection it carries, now
//
// Bytes the proxy has read from one side and not yet written to the other are lost when
// it cuts, as bytes in flight are when a route dies: exactly what replay must make good.
// New connections are accepted and carried (the player comes back), unless held: then
// they wait in the listen backlog, unanswered, until released (the player cannot get
// through yet).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace lifeline::test {

enum class cut_kind {
  reset,      ///< RST both ways (SO_LINGER 0): a rebooted host, a NAT that forgot
  eof,        ///< FIN both ways, no close frame: a process killed
  blackhole,  ///< nothing more is carried either way, sockets left open: a dead route, a hung peer
};

class cutting_proxy {
 public:
  explicit cutting_proxy(std::uint16_t target_port) : target_port_(target_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listener_, 64) != 0)
      throw std::runtime_error("cutting_proxy: cannot listen");
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~cutting_proxy() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
    for (auto& p : pairs_) close_pair(p, false);
  }
  cutting_proxy(const cutting_proxy&) = delete;
  cutting_proxy& operator=(const cutting_proxy&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// Connections carried so far (the first one and every one after a cut).
  [[nodiscard]] int connections() const noexcept { return accepted_.load(); }

  /// Kills every connection carried now, the way `kind` says. Returns at once; the proxy
  /// thread acts within a millisecond.
  void cut(cut_kind kind) {
    std::lock_guard lock(mutex_);
    pending_cut_ = kind;
    cut_requested_ = true;
  }

  /// While held, new connections are not accepted (they wait in the backlog, their hello
  /// unanswered); released, the waiting ones are carried.
  void hold_new_connections(bool hold) { holding_ = hold; }

 private:
  struct pair {
    int client = -1;
    int server = -1;
    bool dead = false;  // blackholed: kept open, carries nothing
  };

  void close_pair(pair& p, bool reset) {
    if (reset) {
      const linger abortive{1, 0};
      ::setsockopt(p.client, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
      ::setsockopt(p.server, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
    }
    ::close(p.client);
    ::close(p.server);
    p.client = p.server = -1;
  }

  void apply_cut(cut_kind kind) {
    for (auto& p : pairs_) {
      if (p.client < 0 || p.dead) continue;
      if (kind == cut_kind::blackhole) p.dead = true;
      else close_pair(p, kind == cut_kind::reset);
    }
  }

  void accept_one() {
    const int c = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0) return;
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(target_port_);
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(c);
      ::close(s);
      return;
    }
    const int flags = 1;
    ::setsockopt(s, IPPROTO_TCP, 1 /* TCP_NODELAY */, &flags, sizeof flags);
    ::setsockopt(c, IPPROTO_TCP, 1, &flags, sizeof flags);
    pairs_.push_back({c, s});
    ++accepted_;
  }

  // Moves what is readable from `from` to `to`; false when `from` ended (EOF or error).
  static bool carry(int from, int to) {
    char buf[16384];
    const auto n = ::recv(from, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    for (ssize_t done = 0; done < n;) {
      const auto w = ::send(to, buf + done, static_cast<std::size_t>(n - done), MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          pollfd p{to, POLLOUT, 0};
          ::poll(&p, 1, 10);
          continue;
        }
        return false;
      }
      done += w;
    }
    return true;
  }

  void run() {
    while (!stop_) {
      {
        std::lock_guard lock(mutex_);
        if (cut_requested_) {
          apply_cut(pending_cut_);
          cut_requested_ = false;
        }
      }
      std::vector<pollfd> fds{{listener_, static_cast<short>(holding_ ? 0 : POLLIN), 0}};
      for (const auto& p : pairs_) {
        if (p.client < 0 || p.dead) continue;
        fds.push_back({p.client, POLLIN, 0});
        fds.push_back({p.server, POLLIN, 0});
      }
      ::poll(fds.data(), fds.size(), 1);
      if (fds[0].revents & POLLIN) accept_one();
      for (auto& p : pairs_) {
        if (p.client < 0 || p.dead) continue;
        // An end that hangs up is passed on as it came (FIN), the other way too.
        if (!carry(p.client, p.server) || !carry(p.server, p.client)) close_pair(p, false);
      }
    }
  }

  std::uint16_t target_port_;
  std::uint16_t port_ = 0;
  int listener_ = -1;
  std::vector<pair> pairs_;  // proxy thread only
  std::atomic<int> accepted_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> holding_{false};
  std::mutex mutex_;
  cut_kind pending_cut_ = cut_kind::reset;
  bool cut_requested_ = false;
  std::thread thread_;
};

}  // namespace lifeline::test
