// bench/detection/fault_injection.hpp — how the driver kills the doomed sessions: the
// instants of the waves, each load generator's share of each wave, and, for the
// packet-filter faults (blackholed, unreachable), the private network namespace and the
// nftables rules that cut each wave's source address off.
//
// The load generators apply the host-side faults (hung, closed, rebooted, stalled) at the
// instants the driver sends them (KILL lines); the driver adds each wave's address to the
// filter's set at its instant. Rules live only in the namespace enter_private_network() made,
// so nothing else on the machine is touched (DESIGN.md §4).
//
//   enter_private_network();                 // once, before any child starts
//   apply_rules(fault_table("blackholed"));  // drops nothing yet
//   apply_rules(cut_off(wave_address(0)));   // at wave 0's instant
//   remove_rules();
#pragma once

#include "driver_settings.hpp"
#include "proc_readings.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace lifeline::bench {

/// The faults that need the packet filter (and so root and a private namespace).
bool needs_packet_filter(const std::string& fault);

// Enters a private network namespace with loopback up, so packet filters stay in it.
void enter_private_network();

// The filter that cuts the doomed off, in the input hook so the sender's TCP has really
// sent what is dropped (see tests/fault_netns/). It matches the addresses of the set
// "doomed", empty at first: each wave's address joins it at the wave's instant.
std::string fault_table(const std::string& fault);

/// The rule adding `address` to the set "doomed".
std::string cut_off(const std::string& address);

/// Feeds `rules` to nft; throws if it refuses them.
void apply_rules(const std::string& rules);
/// Deletes the benchmark's table, if any.
void remove_rules();

// Wave w's doomed sessions connect from 127.0.0.2 + w (the load generators' --doomed-groups):
// all of 127/8 is loopback.
std::string wave_address(std::size_t wave);

// One instant, or W drawn uniformly within [first, first + spread], in order. The same
// seed gives every strategy of a run the same offsets.
std::vector<ns_t> wave_instants(const settings& s, ns_t first);

// How many of a load generator's k doomed wave w kills: its group of --doomed-groups.
std::size_t wave_share(std::size_t k, std::size_t wave, std::size_t waves);

}  // namespace lifeline::bench
