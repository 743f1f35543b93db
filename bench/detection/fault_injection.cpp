// bench/detection/fault_injection.cpp — waves and packet-filter faults
// (fault_injection.hpp): unshare(CLONE_NEWNET), loopback brought up, rules fed to nft.
#include "fault_injection.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>

namespace lifeline::bench {

bool needs_packet_filter(const std::string& fault) { return fault == "blackholed" || fault == "unreachable"; }

void enter_private_network() {
  if (::unshare(CLONE_NEWNET) != 0)
    throw std::runtime_error(std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno) +
                             " (packet-filter faults need root)");
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  ::ioctl(fd, SIOCGIFFLAGS, &request);
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  if (::ioctl(fd, SIOCSIFFLAGS, &request) != 0) throw std::runtime_error("cannot bring loopback up");
  ::close(fd);
}

std::string fault_table(const std::string& fault) {
  const std::string head =
      "table inet lifeline_bench {\n  set doomed {\n    type ipv4_addr\n  }\n"
      "  chain input {\n    type filter hook input priority filter; policy accept;\n";
  const std::string tail = "  }\n}\n";
  if (fault == "blackholed") return head + "    ip saddr @doomed drop\n    ip daddr @doomed drop\n" + tail;
  return head + "    ip daddr @doomed reject with icmp type host-unreachable\n" +
         "    ip saddr @doomed meta l4proto tcp drop\n" + tail;
}

std::string cut_off(const std::string& address) { return "add element inet lifeline_bench doomed { " + address + " }\n"; }

void apply_rules(const std::string& rules) {
  FILE* nft = ::popen("nft -f -", "w");
  if (nft == nullptr) throw std::runtime_error("cannot run nft");
  std::fputs(rules.c_str(), nft);
  if (::pclose(nft) != 0) throw std::runtime_error("nft rejected the fault rules");
}

void remove_rules() { (void)std::system("nft delete table inet lifeline_bench 2>/dev/null"); }

std::string wave_address(std::size_t wave) {
  const in_addr address{htonl(static_cast<in_addr_t>((127U << 24) + 2 + wave))};
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &address, text, sizeof text);
  return text;
}

std::vector<ns_t> wave_instants(const settings& s, ns_t first) {
  if (s.waves == 1) return {first};
  std::mt19937_64 random(s.seed);
  std::uniform_int_distribution<ns_t> offset(0, s.wave_spread_ms * 1'000'000LL);
  std::vector<ns_t> instants(s.waves);
  for (auto& at : instants) at = first + offset(random);
  std::sort(instants.begin(), instants.end());
  return instants;
}

std::size_t wave_share(std::size_t k, std::size_t wave, std::size_t waves) {
  return k * (wave + 1) / waves - k * wave / waves;
}

}  // namespace lifeline::bench
