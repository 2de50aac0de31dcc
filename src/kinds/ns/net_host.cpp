#include "kinds/ns/net_host.h"

// glibc's <net/if.h> before any <linux/...> header (linux/libc-compat.h).
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
// clang-format off
#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
// clang-format on

#include <algorithm>
#include <cstring>
#include <optional>

#include "base/unique_fd.h"
#include "kinds/ns/net_nl.h"
#include "kinds/ns/net_view.h"
#include "sys/ns_thread.h"

namespace amber::kinds {

using net::connect;
using net::nl_fail;
using net::Sock;

namespace {

struct Cidr {
  uint32_t addr = 0;  // host order
  int prefix = 0;
};

std::optional<Cidr> parse_cidr(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return std::nullopt;
  in_addr a{};
  if (::inet_pton(AF_INET, s.substr(0, slash).c_str(), &a) != 1) return std::nullopt;
  const std::string p = s.substr(slash + 1);
  if (p.empty() || p.size() > 2 || p.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  Cidr c{ntohl(a.s_addr), std::stoi(p)};
  if (c.prefix > 32) return std::nullopt;
  return c;
}

std::string to_string(uint32_t addr, int prefix) {
  in_addr a{htonl(addr)};
  char buf[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &a, buf, sizeof buf);
  return fmt::format("{}/{}", buf, prefix);
}

uint32_t mask_of(int prefix) { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }

// Every IPv4 address of the host's links.
Result<std::vector<uint32_t>> host_addresses() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return sys_fail("getifaddrs");
  std::vector<uint32_t> out;
  for (ifaddrs* i = list; i; i = i->ifa_next)
    if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
      out.push_back(ntohl(reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr));
  ::freeifaddrs(list);
  return out;
}

struct LinkPut {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
using Link = std::unique_ptr<rtnl_link, LinkPut>;

// An address (IPv4 or IPv6 ADDR/PREFIX) on link `ifindex`, in the
// caller's namespace. `nodad`: an IPv6 address usable at once (it was
// before the checkpoint), not after duplicate address detection.
Status add_address(nl_sock* sk, int ifindex, const std::string& cidr, bool nodad, const std::string& what) {
  nl_addr* local = nullptr;
  if (int e = nl_addr_parse(cidr.c_str(), AF_UNSPEC, &local); e < 0)
    return nl_fail(e, fmt::format("{}: address {}", what, cidr));
  rtnl_addr* a = rtnl_addr_alloc();
  rtnl_addr_set_ifindex(a, ifindex);
  rtnl_addr_set_local(a, local);
  if (nodad && nl_addr_get_family(local) == AF_INET6) rtnl_addr_set_flags(a, IFA_F_NODAD);
  nl_addr_put(local);
  const int e = rtnl_addr_add(sk, a, NLM_F_CREATE | NLM_F_EXCL);
  rtnl_addr_put(a);
  if (e < 0) return nl_fail(e, fmt::format("{}: add address {}", what, cidr));
  return {};
}

// An address on link `ifindex` and the link up, in the caller's namespace.
Status address_and_up(nl_sock* sk, int ifindex, const std::string& cidr, const std::string& what) {
  TRY(add_address(sk, ifindex, cidr, false, what));
  Link orig(rtnl_link_alloc()), ch(rtnl_link_alloc());
  rtnl_link_set_ifindex(orig.get(), ifindex);
  rtnl_link_set_flags(ch.get(), IFF_UP);
  if (int e2 = rtnl_link_change(sk, orig.get(), ch.get(), 0); e2 < 0) return nl_fail(e2, fmt::format("{}: up", what));
  return {};
}

Status default_route(nl_sock* sk, int ifindex, const std::string& gateway_cidr) {
  const std::string gw = gateway_cidr.substr(0, gateway_cidr.find('/'));
  nl_addr *dst = nullptr, *via = nullptr;
  if (int e = nl_addr_parse("0.0.0.0/0", AF_INET, &dst); e < 0) return nl_fail(e, "default route");
  if (int e = nl_addr_parse(gw.c_str(), AF_INET, &via); e < 0) {
    nl_addr_put(dst);
    return nl_fail(e, "default route");
  }
  rtnl_route* r = rtnl_route_alloc();
  rtnl_route_set_family(r, AF_INET);
  rtnl_route_set_dst(r, dst);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  rtnl_route_nh_set_ifindex(nh, ifindex);
  rtnl_route_nh_set_gateway(nh, via);
  rtnl_route_add_nexthop(r, nh);
  const int e = rtnl_route_add(sk, r, NLM_F_CREATE | NLM_F_EXCL);
  rtnl_route_put(r);
  nl_addr_put(dst);
  nl_addr_put(via);
  if (e < 0) return nl_fail(e, fmt::format("default route via {}", gw));
  return {};
}

}  // namespace

std::string host_link_name(const std::string& container) {
  std::string n = "am-" + container;
  if (n.size() < IFNAMSIZ) return n;
  uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across builds and hosts
  for (unsigned char c : container) h = (h ^ c) * 1099511628211ull;
  return fmt::format("am-{:012x}", h & 0xffffffffffffull);
}

Result<img::HostLink> veth_addresses(const std::string& cidr) {
  auto c = parse_cidr(cidr);
  if (!c) return bad_input("--net veth={}: not an IPv4 ADDR/PREFIX", cidr);
  if (c->prefix > 30) return bad_input("--net veth={}: a /{} has no room for the host side (at most /30)", cidr, c->prefix);
  const uint32_t net = c->addr & mask_of(c->prefix), bcast = net | ~mask_of(c->prefix);
  if (c->addr == net || c->addr == bcast)
    return bad_input("--net veth={}: the network or broadcast address of its subnet", cidr);
  const uint32_t host = c->addr == net + 1 ? net + 2 : net + 1;
  img::HostLink h;
  h.set_address(to_string(c->addr, c->prefix));
  h.set_host_address(to_string(host, c->prefix));
  h.set_name(kContainerLinkName);
  return h;
}

Result<img::HostLink> plan_veth(const std::string& container, const std::string& cidr) {
  img::HostLink h;
  if (!cidr.empty()) {
    h = TRY(veth_addresses(cidr));
  } else {
    // 10.200.0.0/16 in /30s: the first no host address is in (amber's own
    // host sides included: they hold the .1 of theirs).
    const std::vector<uint32_t> used = TRY(host_addresses());
    const uint32_t base = (10u << 24) | (200u << 16);
    std::optional<uint32_t> free;
    for (uint32_t n = base; n < base + 65536 && !free; n += 4)
      if (std::none_of(used.begin(), used.end(), [n](uint32_t a) { return (a & mask_of(30)) == n; })) free = n;
    if (!free) return failf("--net veth: no free /30 left in 10.200.0.0/16 on this host");
    h = TRY(veth_addresses(to_string(*free + 2, 30)));
  }
  h.set_host_name(host_link_name(container));
  return h;
}

Status make_veth(const img::HostLink& h, pid_t init) {
  const std::string what = fmt::format("veth {}", h.host_name());
  {
    Sock sk = TRY(connect(NETLINK_ROUTE));
    rtnl_link* l = rtnl_link_veth_alloc();
    if (!l) return failf("{}: out of memory", what);
    rtnl_link_set_name(l, h.host_name().c_str());
    rtnl_link* peer = rtnl_link_veth_get_peer(l);
    rtnl_link_set_name(peer, h.name().c_str());
    rtnl_link_set_ns_pid(peer, init);
    rtnl_link_put(peer);
    const int e = rtnl_link_add(sk.get(), l, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_link_veth_release(l);
    if (e < 0) return nl_fail(e, fmt::format("{}: make the pair", what));
  }
  TRY(configure_host_side(h));
  UniqueFd ns = TRY(open_fd(fmt::format("/proc/{}/ns/net", init), O_RDONLY | O_CLOEXEC));
  return sys::in_namespace(ns.get(), CLONE_NEWNET, [&]() -> Status {
    Sock sk = TRY(connect(NETLINK_ROUTE));
    const int idx = static_cast<int>(::if_nametoindex(h.name().c_str()));
    if (idx <= 0) return sys_fail("{}: find {} in the container", what, h.name());
    TRY(address_and_up(sk.get(), idx, h.address(), fmt::format("{} (container side {})", what, h.name())));
    return default_route(sk.get(), idx, h.host_address());
  });
}

Status configure_host_side(const img::HostLink& h) {
  Sock sk = TRY(connect(NETLINK_ROUTE));
  const int idx = static_cast<int>(::if_nametoindex(h.host_name().c_str()));
  if (idx <= 0) return sys_fail("veth {}: find it on the host", h.host_name());
  const std::string what = fmt::format("veth {} (host side)", h.host_name());
  TRY(address_and_up(sk.get(), idx, h.host_address(), what));
  for (const std::string& cidr : h.host_extra_addresses()) TRY(add_address(sk.get(), idx, cidr, true, what));
  return {};
}

Status read_host_side(img::HostLink& h) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return sys_fail("veth {}: list the host's addresses", h.host_name());
  // The address bytes of an AF_INET or AF_INET6 sockaddr.
  auto bytes = [](const sockaddr* sa) {
    return sa->sa_family == AF_INET
               ? reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(sa)->sin_addr)
               : reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr);
  };
  h.clear_host_extra_addresses();
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || !i->ifa_netmask || h.host_name() != i->ifa_name) continue;
    const int family = i->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    const unsigned char* addr = bytes(i->ifa_addr);
    // The kernel makes the link-local one itself.
    if (family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(reinterpret_cast<const in6_addr*>(addr))) continue;
    int prefix = 0;
    for (int b = 0; b < (family == AF_INET ? 4 : 16); ++b) prefix += __builtin_popcount(bytes(i->ifa_netmask)[b]);
    char buf[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(family, addr, buf, sizeof buf);
    const std::string cidr = fmt::format("{}/{}", buf, prefix);
    if (cidr != h.host_address()) h.add_host_extra_addresses(cidr);
  }
  ::freeifaddrs(list);
  return {};
}

namespace {

std::string publish_table(const std::string& host_name) {
  std::string t = "amber_" + host_name;
  std::replace(t.begin(), t.end(), '-', '_');
  return "ip " + t;
}

std::optional<std::pair<unsigned, unsigned>> parse_publish(const std::string& spec) {
  auto colon = spec.find(':');
  if (colon == std::string::npos) return std::nullopt;
  auto port = [](const std::string& p) -> std::optional<unsigned> {
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    unsigned v = static_cast<unsigned>(std::stoul(p));
    if (v == 0 || v > 65535) return std::nullopt;
    return v;
  };
  auto h = port(spec.substr(0, colon)), c = port(spec.substr(colon + 1));
  if (!h || !c) return std::nullopt;
  return std::pair{*h, *c};
}

}  // namespace

Status check_publish(const std::string& spec) {
  if (!parse_publish(spec)) return bad_input("--publish {}: not HOSTPORT:CTRPORT (ports 1-65535)", spec);
  return {};
}

Status publish_ports(const img::HostLink& h) {
  if (h.publish().empty()) return {};
  const std::string table = publish_table(h.host_name());
  const std::string ctr = h.address().substr(0, h.address().find('/'));
  const std::string host = h.host_address().substr(0, h.host_address().find('/'));
  std::string pre, out;
  for (const std::string& spec : h.publish()) {
    auto p = parse_publish(spec);
    if (!p) return bad_input("--publish {}: not HOSTPORT:CTRPORT", spec);
    pre += fmt::format("    iifname != \"{}\" tcp dport {} dnat to {}:{}\n", h.host_name(), p->first, ctr, p->second);
    out += fmt::format("    ip daddr {} tcp dport {} dnat to {}:{}\n", host, p->first, ctr, p->second);
  }
  const std::string text = fmt::format(
      "table {0} {{\n  chain prerouting {{\n    type nat hook prerouting priority dstnat; policy accept;\n{1}  }}\n"
      "  chain output {{\n    type nat hook output priority -100; policy accept;\n{2}  }}\n}}\n",
      table, pre, out);
  TRY_CTX(net::nft_load_ruleset(text), "--publish on the host ({})", table);
  return {};
}

Status unpublish_ports(const std::string& host_name) {
  if (host_name.empty()) return {};
  const std::string table = publish_table(host_name);
  // "add" first: deleting a table that is not there is an error (nft 1.0.6
  // has no "destroy").
  TRY_CTX(net::nft_load_ruleset(fmt::format("add table {0}\ndelete table {0}\n", table)), "--publish on the host");
  return {};
}

Status remove_host_link(const std::string& host_name) {
  if (host_name.empty()) return {};
  const int idx = static_cast<int>(::if_nametoindex(host_name.c_str()));
  if (idx <= 0) return {};  // gone with the container's namespace already
  Sock sk = TRY(connect(NETLINK_ROUTE));
  Link l(rtnl_link_alloc());
  rtnl_link_set_ifindex(l.get(), idx);
  if (int e = rtnl_link_delete(sk.get(), l.get()); e < 0 && e != -NLE_NODEV && e != -NLE_OBJ_NOTFOUND)
    return nl_fail(e, fmt::format("veth {}: remove it", host_name));
  return {};
}

}  // namespace amber::kinds
