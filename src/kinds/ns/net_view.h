// Internal to the net namespace kind (net.cpp): what one net namespace
// holds, read by the calling thread in its own net namespace, in words that
// compare equal between two namespaces holding the same thing.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace amber::kinds::net {

struct NetView {
  // Every link but lo: "d0 (dummy) <libnl's line> txqlen 1000 qdisc noqueue".
  std::multiset<std::string> links;
  bool lo_up = false;
  uint32_t lo_mtu = 0;
  bool lo_has_ipv4 = false, lo_has_ipv6 = false;  // 127.0.0.1/8, ::1/128
  std::string lo_line;  // lo's libnl one-line dump (flags, MTU, qdisc...): compared, not restored
  // One line per object (libnl's own one-line dump), sorted.
  bool tentative = false;  // an IPv6 address is in duplicate address detection
  std::multiset<std::string> addresses, routes, rules, neighbours;  // neighbours: NUD_PERMANENT entries only
  // Objects libnl-route has no cache for, as the kernel's dump messages
  // (hex): proxy neighbour entries (RTM_GETNEIGH with NTF_PROXY) and nexthop
  // objects (RTM_GETNEXTHOP).
  std::multiset<std::string> proxy_neighbours, nexthops;
  std::map<std::string, std::string> sysctls;  // "ipv4/ip_forward" -> "1", every readable file of /proc/sys/net
  std::set<std::string> nft_tables;            // "inet filter"
  std::string nft_ruleset;                     // The sysctls of `want` whose value a fresh namespace (`fresh`) does not
// have, in the order to write them: namespace-wide ones, conf/all,
// conf/default and neigh/default (they change every device's), devices'.
std::vector<std::pair<std::string, std::string>> sysctls_to_write(const std::map<std::string, std::string>& want,
                                                                  const std::map<std::string, std::string>& fresh);

// `nft list ruleset` if there is a table, else ""
  std::set<std::string> legacy_tables;         // "iptables filter", "ip6tables nat", "arptables filter"
};

// rtnetlink (libnl-route), nfnetlink and /proc/thread-self/net of the
// calling thread's net namespace; `sysctls`: also walk /proc/sys/net.
// `on_lo`, if set, is called as soon as lo's state is known (links and
// addresses read), before the rest: the dump starts its fresh namespace's
// copy of lo meanwhile.
Result<NetView> read_view(bool sysctls, const std::function<void(const NetView&)>& on_lo = {});

// A libnl line ("... <permanent,tentative>") without one of its flags.
// An IPv6 address is "tentative" until duplicate address detection ends
// (about a second after its link went up): the same address either way.
std::string without_flag(std::string line, std::string_view flag);

// The sysctls of `want` whose value a fresh namespace (`fresh`) does not
// have, in the order to write them: namespace-wide ones, conf/all,
// conf/default and neigh/default (they change every device's), devices'.
std::vector<std::pair<std::string, std::string>> sysctls_to_write(const std::map<std::string, std::string>& want,
                                                                  const std::map<std::string, std::string>& fresh);

// The network lock's table (net_lock.h), in the container's namespace
// while it is held: "FAMILY NAME" as nft_tables lists it. Left out of every
// view, so a dump never records it and a restore never makes it.
inline constexpr const char* kNetLockTable = "netdev amber_netlock";

// The ruleset of the calling thread's namespace as `nft list ruleset`
// prints it, with only `tables` ("FAMILY NAME"), each by `nft list table`
// (libnftables); loading one (net_nft.cpp).
Result<std::string> nft_list_ruleset(const std::set<std::string>& tables);
Status nft_load_ruleset(const std::string& text);
// Runs nft commands (nft's input language) in one transaction: all or none.
// The error is "nftables: WHAT: " and nft's first line of it.
Status nft_run(const std::string& commands, std::string_view what);

// lo up or down, its MTU: by ioctl in the calling thread's namespace.
Status set_lo_up(bool up);
Status set_lo_mtu(uint32_t mtu);

}  // namespace amber::kinds::net
