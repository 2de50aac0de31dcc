// Reading one net namespace (net_view.h): libnl-route for links,
// addresses, routes, rules and neighbours, libnl's core for the nfnetlink
// dump of nftables tables, procfs for the rest.
#include "kinds/ns/net_view.h"

// glibc's <netinet/in.h> and <net/if.h> before any <linux/...> header that
// pulls in <linux/in.h> or <linux/if.h> (linux/libc-compat.h then yields).
#include <net/if.h>
#include <netinet/in.h>
// clang-format off
#include <dirent.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/object.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
// clang-format on

#include <algorithm>
#include <cstring>
#include <memory>

#include "base/files.h"
#include "base/unique_fd.h"
#include "kinds/ns/net_nl.h"
#include "kinds/ns/net_rtnl.h"

namespace amber::kinds::net {

namespace {

struct CacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using Cache = std::unique_ptr<nl_cache, CacheFree>;

template <class F>
void each(nl_cache* c, F&& f) {
  for (nl_object* o = nl_cache_get_first(c); o; o = nl_cache_get_next(o)) f(o);
}

Status read_links(nl_sock* sk, NetView& v, int& lo_index) {
  nl_cache* raw = nullptr;
  if (int e = rtnl_link_alloc_cache(sk, AF_UNSPEC, &raw); e < 0) return nl_fail(e, "rtnetlink: list links");
  Cache c(raw);
  Status st;
  each(c.get(), [&](nl_object* o) {
    auto* l = reinterpret_cast<rtnl_link*>(o);
    const char* name = rtnl_link_get_name(l);
    const char* kind = rtnl_link_get_type(l);
    const unsigned flags = rtnl_link_get_flags(l);
    if (name && std::strcmp(name, "lo") == 0 && (flags & IFF_LOOPBACK)) {
      lo_index = rtnl_link_get_ifindex(l);
      v.lo_up = flags & IFF_UP;
      v.lo_mtu = rtnl_link_get_mtu(l);
      // The one-line dump leaves out the queue length and the qdisc.
      const char* qdisc = rtnl_link_get_qdisc(l);
      v.lo_line = fmt::format("{} txqlen {} qdisc {}", line_of(o), rtnl_link_get_txqlen(l), qdisc ? qdisc : "none");
      return;
    }
    const char* qdisc = rtnl_link_get_qdisc(l);
    v.links.insert(fmt::format("{} ({}) {} txqlen {} qdisc {}", name ? name : "?", kind ? kind : "no kind",
                               line_of(o), rtnl_link_get_txqlen(l), qdisc ? qdisc : "none"));
  });
  return st;
}

Status read_addresses(nl_sock* sk, NetView& v, int lo_index) {
  nl_cache* raw = nullptr;
  if (int e = rtnl_addr_alloc_cache(sk, &raw); e < 0) return nl_fail(e, "rtnetlink: list addresses");
  Cache c(raw);
  each(c.get(), [&](nl_object* o) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    char buf[128] = {};
    if (nl_addr* local = rtnl_addr_get_local(a)) nl_addr2str(local, buf, sizeof buf);
    const std::string text = buf;
    if (rtnl_addr_get_ifindex(a) == lo_index) {
      if (text == "127.0.0.1/8") v.lo_has_ipv4 = true;
      if (text == "::1/128" || text == "::1") v.lo_has_ipv6 = true;
    }
    if (rtnl_addr_get_flags(a) & IFA_F_TENTATIVE) v.tentative = true;
    v.addresses.insert(without_flag(line_of(o), "tentative"));
  });
  return {};
}

template <class Alloc>
Status read_lines(Alloc alloc, const char* what, std::multiset<std::string>& out) {
  nl_cache* raw = nullptr;
  if (int e = alloc(&raw); e < 0) return nl_fail(e, fmt::format("rtnetlink: list {}", what));
  Cache c(raw);
  each(c.get(), [&](nl_object* o) { out.insert(line_of(o)); });
  return {};
}

const char* nfproto_name(int family) {
  switch (family) {
    case NFPROTO_INET: return "inet";
    case NFPROTO_IPV4: return "ip";
    case NFPROTO_ARP: return "arp";
    case NFPROTO_NETDEV: return "netdev";
    case NFPROTO_BRIDGE: return "bridge";
    case NFPROTO_IPV6: return "ip6";
    default: return "family?";
  }
}

int on_table(nl_msg* msg, void* arg) {
  auto* out = static_cast<std::set<std::string>*>(arg);
  nlmsghdr* h = nlmsg_hdr(msg);
  if (NFNL_MSG_TYPE(h->nlmsg_type) != NFT_MSG_NEWTABLE) return NL_OK;
  auto* g = static_cast<nfgenmsg*>(nlmsg_data(h));
  nlattr* tb[NFTA_TABLE_MAX + 1] = {};
  if (nlmsg_parse(h, sizeof(nfgenmsg), tb, NFTA_TABLE_MAX, nullptr) < 0 || !tb[NFTA_TABLE_NAME]) {
    out->insert(fmt::format("{} (unreadable name)", nfproto_name(g->nfgen_family)));
    return NL_OK;
  }
  out->insert(fmt::format("{} {}", nfproto_name(g->nfgen_family), nla_get_string(tb[NFTA_TABLE_NAME])));
  return NL_OK;
}

// NFT_MSG_GETTABLE dump over nfnetlink. A kernel without nf_tables has no
// table to lose: the protocol or subsystem is simply missing.
Status read_nft_tables(NetView& v) {
  Sock s(nl_socket_alloc());
  if (!s) return failf("netlink: out of memory");
  if (int e = nl_connect(s.get(), NETLINK_NETFILTER); e < 0) {
    if (e == -NLE_PROTO_MISMATCH || e == -NLE_OPNOTSUPP || e == -NLE_NOADDR) return {};
    return nl_fail(e, "nfnetlink");
  }
  nfgenmsg g{};
  g.nfgen_family = AF_UNSPEC;
  g.version = NFNETLINK_V0;
  if (int e = nl_send_simple(s.get(), (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE, NLM_F_DUMP, &g, sizeof g);
      e < 0)
    return nl_fail(e, "nfnetlink: list nftables tables");
  nl_socket_modify_cb(s.get(), NL_CB_VALID, NL_CB_CUSTOM, on_table, &v.nft_tables);
  if (int e = nl_recvmsgs_default(s.get()); e < 0) {
    if (e == -NLE_OBJ_NOTFOUND || e == -NLE_OPNOTSUPP) return {};
    return nl_fail(e, "nfnetlink: list nftables tables");
  }
  return {};
}

// x_tables instantiate a table in a namespace on its first use (xt_find_table):
// the names files list exactly the tables this namespace has made.
Status read_legacy_tables(NetView& v) {
  constexpr std::pair<const char*, const char*> kFiles[] = {
      {"ip_tables_names", "iptables"}, {"ip6_tables_names", "ip6tables"}, {"arp_tables_names", "arptables"}};
  for (auto [file, tool] : kFiles) {
    auto text = read_file(fmt::format("/proc/thread-self/net/{}", file));
    if (!text) {
      if (text.error().sys_errno == ENOENT) continue;  // not built into this kernel
      return std::unexpected(std::move(text.error()));
    }
    for (auto line : split(*text, '\n'))
      if (auto name = trim(line); !name.empty()) v.legacy_tables.insert(fmt::format("{} {}", tool, name));
  }
  return {};
}

int on_raw(nl_msg* msg, void* arg) {
  nlmsghdr* h = nlmsg_hdr(msg);
  const auto* p = static_cast<const unsigned char*>(nlmsg_data(h));
  std::string hex;
  for (int i = 0; i < nlmsg_datalen(h); ++i) hex += fmt::format("{:02x}", p[i]);
  static_cast<std::multiset<std::string>*>(arg)->insert(std::move(hex));
  return NL_OK;
}

// A dump request with a family header of its own; EOPNOTSUPP (no nexthop
// support built in): none can exist.
Status raw_dump(int type, const void* hdr, size_t len, const char* what, std::multiset<std::string>& out) {
  Sock s = TRY(connect(NETLINK_ROUTE));
  if (int e = nl_send_simple(s.get(), type, NLM_F_DUMP, const_cast<void*>(hdr), len); e < 0)
    return nl_fail(e, fmt::format("rtnetlink: list {}", what));
  nl_socket_modify_cb(s.get(), NL_CB_VALID, NL_CB_CUSTOM, on_raw, &out);
  if (int e = nl_recvmsgs_default(s.get()); e < 0) {
    if (e == -NLE_OPNOTSUPP || e == -NLE_AF_NOSUPPORT) return {};
    return nl_fail(e, fmt::format("rtnetlink: list {}", what));
  }
  return {};
}

// Every readable file under /proc/sys/net (the calling thread's namespace
// chooses the tables, proc_sys_compare). Write-only ones (route/flush) and
// those without a value to read (ipv6 stable_secret unset: EIO) are skipped.
Status walk_sysctls(const std::string& dir, const std::string& rel, NetView& v) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return sys_fail("open {}", dir);
  DIR* d = ::fdopendir(fd.get());
  if (!d) return sys_fail("opendir {}", dir);
  (void)fd.release();
  std::vector<std::pair<std::string, bool>> entries;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    entries.emplace_back(n, e->d_type == DT_DIR);
  }
  ::closedir(d);
  for (const auto& [n, is_dir] : entries) {
    const std::string path = dir + "/" + n, r = rel.empty() ? n : rel + "/" + n;
    if (is_dir) {
      TRY(walk_sysctls(path, r, v));
      continue;
    }
    UniqueFd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!f) continue;  // write-only
    // Read-only ones are the kernel's to say (nf_conntrack_count...): nothing to restore.
    struct stat st {};
    if (::fstat(f.get(), &st) != 0 || !(st.st_mode & 0222)) continue;
    char buf[4096];
    ssize_t len = ::read(f.get(), buf, sizeof buf);
    if (len < 0) continue;
    v.sysctls[r] = std::string(trim(std::string_view(buf, static_cast<size_t>(len))));
  }
  return {};
}

}  // namespace

std::string without_flag(std::string line, std::string_view flag) {
  // libnl lists an object's flags as "<a,b,c>".
  const auto open = line.rfind('<'), close = line.rfind('>');
  if (open == std::string::npos || close == std::string::npos || close < open) return line;
  std::string kept;
  for (auto f : split(std::string_view(line).substr(open + 1, close - open - 1), ','))
    if (!f.empty() && f != flag) kept += (kept.empty() ? "" : ",") + std::string(f);
  return line.substr(0, open) + "<" + kept + ">" + line.substr(close + 1);
}

namespace {

// Writing conf/all/X or conf/default/X (and ip_forward) changes every
// device's X: the namespace-wide ones first, then defaults, then devices'.
int sysctl_rank(const std::string& k) {
  if (k.find("/conf/all/") != std::string::npos) return 1;
  if (k.find("/conf/default/") != std::string::npos || k.find("/neigh/default/") != std::string::npos) return 2;
  if (k.find("/conf/") != std::string::npos || k.find("/neigh/") != std::string::npos) return 3;
  return 0;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> sysctls_to_write(const std::map<std::string, std::string>& want,
                                                                  const std::map<std::string, std::string>& fresh) {
  std::vector<std::pair<std::string, std::string>> diff;
  for (const auto& [k, v] : want)
    if (auto it = fresh.find(k); it == fresh.end() || it->second != v) diff.emplace_back(k, v);
  std::stable_sort(diff.begin(), diff.end(),
                   [](const auto& a, const auto& b) { return sysctl_rank(a.first) < sysctl_rank(b.first); });
  return diff;
}

Result<NetView> read_view(bool sysctls, const std::function<void(const NetView&)>& on_lo) {
  NetView v;
  Sock sk = TRY(connect(NETLINK_ROUTE));
  int lo = -1;
  TRY(read_links(sk.get(), v, lo));
  TRY(read_addresses(sk.get(), v, lo));
  if (on_lo) on_lo(v);
  TRY(read_route_lines(v.routes));
  TRY(read_lines([&](nl_cache** c) { return rtnl_rule_alloc_cache(sk.get(), AF_UNSPEC, c); }, "rules", v.rules));
  {
    // Only entries set by hand: the others are the kernel's cache, learned
    // again (and the kernel's own NOARP entries come back by themselves).
    nl_cache* raw = nullptr;
    if (int e = rtnl_neigh_alloc_cache(sk.get(), &raw); e < 0) return nl_fail(e, "rtnetlink: list neighbours");
    Cache c(raw);
    each(c.get(), [&](nl_object* o) {
      if (rtnl_neigh_get_state(reinterpret_cast<rtnl_neigh*>(o)) & NUD_PERMANENT) v.neighbours.insert(line_of(o));
    });
  }
  ndmsg proxy{};
  proxy.ndm_family = AF_UNSPEC;
  proxy.ndm_flags = NTF_PROXY;
  TRY(raw_dump(RTM_GETNEIGH, &proxy, sizeof proxy, "proxy neighbours", v.proxy_neighbours));
  nhmsg nh{};
  nh.nh_family = AF_UNSPEC;
  TRY(raw_dump(RTM_GETNEXTHOP, &nh, sizeof nh, "nexthops", v.nexthops));
  TRY(read_nft_tables(v));
  // The network lock's table is amber's, not the container's: neither
  // dumped nor compared (it is there while the container is held).
  v.nft_tables.erase(kNetLockTable);
  if (!v.nft_tables.empty()) v.nft_ruleset = TRY(nft_list_ruleset(v.nft_tables));
  TRY(read_legacy_tables(v));
  if (sysctls) TRY(walk_sysctls("/proc/sys/net", "", v));
  return v;
}

namespace {

Result<UniqueFd> lo_socket(ifreq& ifr) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return sys_fail("socket");
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  return s;
}

}  // namespace

Status set_lo_up(bool up) {
  ifreq ifr{};
  UniqueFd s = TRY(lo_socket(ifr));
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return sys_fail("lo: get flags");
  ifr.ifr_flags = static_cast<short>(up ? (ifr.ifr_flags | IFF_UP) : (ifr.ifr_flags & ~IFF_UP));
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return sys_fail("lo: bring it {}", up ? "up" : "down");
  return {};
}

Status set_lo_mtu(uint32_t mtu) {
  ifreq ifr{};
  UniqueFd s = TRY(lo_socket(ifr));
  ifr.ifr_mtu = static_cast<int>(mtu);
  if (::ioctl(s.get(), SIOCSIFMTU, &ifr) != 0) return sys_fail("lo: set MTU {}", mtu);
  return {};
}

}  // namespace amber::kinds::net
