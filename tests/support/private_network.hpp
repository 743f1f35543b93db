// A private network namespace for packet-filter fault tests: the calling thread gets a
// fresh, empty network stack (its own loopback, no netfilter rules), so a test may drop
// or reject packets with nftables without touching the host's rules, sysctls or sockets.
//
// Why a namespace and not the host: an nft rule on the host's loopback would hit every
// other process on the machine. Linux keeps the network namespace per thread, so:
//   - enter it at the start of the test, before the test creates any thread; threads
//     created afterwards (a server's shards), sockets they open and child processes
//     (nft) inherit it;
//   - each private_network is a new namespace: rules from an earlier test in the same
//     process are gone. The destructor moves the thread back to where it was; the
//     private namespace dies with its last socket.
// Entering needs CAP_SYS_ADMIN (unshare(2)) and nft needs CAP_NET_ADMIN in the new
// namespace: root, in practice. Without them, or without the nft binary, nothing is
// entered and why_not() says why, so the test can skip visibly.
//
//   lifeline::test::private_network net;   // before any server starts
//   if (!net) { MESSAGE("SKIPPED: " << net.why_not()); return; }
//   net.nft("add table inet t\n...");        // runs inside the namespace only
//   net.counter_packets("inet", "t", "dropped");        // what the rules matched
//   net.kernel_counter("TcpExt", "OutOfWindowIcmps");  // what the stack did about it
//
// nft runs only while the calling thread is verifiably inside the namespace this object
// created (its /proc/thread-self/ns/net inode), never elsewhere: a mistake throws instead
// of changing the host.
#pragma once

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace lifeline::test {

class private_network {
 public:
  /// Moves the calling thread into a new network namespace with loopback up. On failure
  /// the thread stays where it was and why_not() explains. Call before creating threads.
  private_network() {
    nft_path_ = find_program("nft");
    if (nft_path_.empty()) {
      why_not_ = "nft (nftables) is not installed; tools/install-deps.sh installs it";
      return;
    }
    original_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (original_ < 0) {
      why_not_ = "cannot open /proc/thread-self/ns/net: " + errno_text();
      return;
    }
    const auto host_inode = current_inode();
    if (::unshare(CLONE_NEWNET) != 0) {
      why_not_ = "unshare(CLONE_NEWNET) failed: " + errno_text() +
                 " (a private network namespace needs CAP_SYS_ADMIN: run as root)";
      return;
    }
    inode_ = current_inode();
    if (inode_ == 0 || inode_ == host_inode) {
      why_not_ = "unshare(CLONE_NEWNET) returned, but the thread's namespace did not change";
      leave();
      return;
    }
    if (!bring_loopback_up()) {
      leave();
      return;
    }
    // A new namespace starts with no rules. Anything else means nft does not run where we
    // think it does (or cannot run at all): refuse rather than risk the host's ruleset.
    const auto listing = run(nft_path_ + " list ruleset 2>&1");
    if (listing.status != 0 || listing.output.find_first_not_of(" \t\n") != std::string::npos) {
      why_not_ = "nft cannot list an empty ruleset in the private namespace (exit " + std::to_string(listing.status) +
                 "): " + listing.output;
      leave();
      return;
    }
    entered_ = true;
  }

  /// Back to the namespace the thread came from. Destroy servers and peers first (their
  /// threads and sockets stay in the private namespace until they end).
  ~private_network() { leave(); }

  private_network(const private_network&) = delete;
  private_network& operator=(const private_network&) = delete;

  /// True when the thread is inside its private namespace and nft works there.
  explicit operator bool() const noexcept { return entered_; }
  [[nodiscard]] const std::string& why_not() const noexcept { return why_not_; }

  /// Runs `nft -f -` with `script` in the private namespace. Throws std::runtime_error
  /// with nft's output if nft fails, std::logic_error if the thread is not inside.
  void nft(std::string_view script) const {
    require_inside();
    const auto result = run(nft_path_ + " -f - 2>&1 <<'LIFELINE_NFT_SCRIPT'\n" + std::string(script) +
                            "\nLIFELINE_NFT_SCRIPT\n");
    if (result.status != 0)
      throw std::runtime_error("nft failed (exit " + std::to_string(result.status) + "): " + result.output);
  }

  /// A counter of the namespace's own network stack (MIBs are per namespace, so these
  /// count this test only), by the group and name nstat shows without its prefix:
  /// ("TcpExt", "OutOfWindowIcmps"), ("Icmp", "InDestUnreachs"). Throws if there is none.
  [[nodiscard]] std::uint64_t kernel_counter(std::string_view group, std::string_view name) const {
    require_inside();
    for (const char* file : {"/proc/thread-self/net/netstat", "/proc/thread-self/net/snmp"}) {
      // Each group is two lines: "Group: name name ...", then "Group: value value ...".
      std::ifstream in(file);
      std::string names, values;
      const auto prefix = std::string(group) + ":";
      while (std::getline(in, names) && std::getline(in, values)) {
        if (names.compare(0, prefix.size(), prefix) != 0) continue;
        std::istringstream n(names.substr(prefix.size())), v(values.substr(prefix.size()));
        std::string field;
        std::uint64_t value = 0;
        while (n >> field && v >> value)
          if (field == name) return value;
      }
    }
    throw std::runtime_error("no kernel counter " + std::string(group) + ":" + std::string(name));
  }

  /// The packets counted so far by the named counter object `counter` of `table`.
  [[nodiscard]] std::uint64_t counter_packets(std::string_view family, std::string_view table,
                                              std::string_view counter) const {
    require_inside();
    const auto result = run(nft_path_ + " list counter " + std::string(family) + " " + std::string(table) + " " +
                            std::string(counter) + " 2>&1");
    const auto at = result.output.find("packets ");
    if (result.status != 0 || at == std::string::npos)
      throw std::runtime_error("nft list counter failed (exit " + std::to_string(result.status) + "): " + result.output);
    return std::strtoull(result.output.c_str() + at + 8, nullptr, 10);
  }

 private:
  struct run_result {
    int status = -1;  ///< the exit status, or -1 if the command could not run or was killed
    std::string output;
  };

  static std::string errno_text() { return std::strerror(errno); }

  static std::string find_program(std::string_view name) {
    // root's PATH usually holds the sbin directories, a test runner's may not.
    std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
    path += ":/usr/sbin:/sbin:/usr/bin:/bin";
    std::size_t from = 0;
    while (from <= path.size()) {
      const auto to = std::min(path.find(':', from), path.size());
      if (to > from) {
        auto candidate = path.substr(from, to - from) + "/" + std::string(name);
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      }
      from = to + 1;
    }
    return {};
  }

  static ino_t current_inode() {
    struct stat s {};
    return ::stat("/proc/thread-self/ns/net", &s) == 0 ? s.st_ino : 0;
  }

  // The child runs in the calling thread's namespace: fork/clone copy it from the thread.
  static run_result run(const std::string& command) {
    run_result result;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
      result.output = "popen: " + errno_text();
      return result;
    }
    std::array<char, 512> chunk{};
    std::size_t n = 0;
    while ((n = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) result.output.append(chunk.data(), n);
    const int status = ::pclose(pipe);
    if (status != -1 && WIFEXITED(status)) result.status = WEXITSTATUS(status);
    return result;
  }

  bool bring_loopback_up() {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      why_not_ = "socket() in the private namespace: " + errno_text();
      return false;
    }
    ifreq request{};
    std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    bool up = ::ioctl(fd, SIOCGIFFLAGS, &request) == 0;
    if (up) {
      request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
      up = ::ioctl(fd, SIOCSIFFLAGS, &request) == 0;
    }
    if (!up) why_not_ = "cannot bring lo up in the private namespace: " + errno_text();
    ::close(fd);
    return up;
  }

  void require_inside() const {
    if (!entered_ || current_inode() != inode_)
      throw std::logic_error("private_network: nft called outside the private namespace (" +
                             (entered_ ? std::string("from another thread") : why_not_) + ")");
  }

  void leave() noexcept {
    if (original_ >= 0) {
      if (inode_ != 0) ::setns(original_, CLONE_NEWNET);
      ::close(original_);
      original_ = -1;
    }
    entered_ = false;
  }

  std::string nft_path_;
  std::string why_not_;
  int original_ = -1;  ///< the namespace the thread came from, to return to
  ino_t inode_ = 0;    ///< the private namespace's inode, once entered
  bool entered_ = false;
};

}  // namespace lifeline::test
