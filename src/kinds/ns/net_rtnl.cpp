// Links by libnl-route's link objects; addresses, routes, rules and
// neighbour entries as the rtnetlink messages the kernel dumps, sent back as
// requests (the kernel takes its own dump messages as RTM_NEW* requests:
// `ip route save/restore` relies on it). Links are made with their saved
// ifindex, so the messages' ifindexes stay right.
#include "kinds/ns/net_rtnl.h"

// glibc's <net/if.h> before any <linux/...> header (linux/libc-compat.h).
#include <net/if.h>
#include <netinet/in.h>
// clang-format off
#include <linux/fib_rules.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
// clang-format on

#include <algorithm>
#include <fcntl.h>
#include <sched.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

#include "base/unique_fd.h"
#include "kinds/ns/net_nl.h"

namespace amber::kinds::net {

namespace {

struct CacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using Cache = std::unique_ptr<nl_cache, CacheFree>;
struct LinkPut {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
using Link = std::unique_ptr<rtnl_link, LinkPut>;

// Flags a user sets on a link (dev_change_flags); RUNNING, LOWER_UP and the
// like are the kernel's.
constexpr unsigned kUserFlags = IFF_UP | IFF_PROMISC | IFF_ALLMULTI | IFF_NOARP | IFF_MULTICAST;

int on_payload(nl_msg* msg, void* arg) {
  nlmsghdr* h = nlmsg_hdr(msg);
  static_cast<std::vector<std::string>*>(arg)->emplace_back(static_cast<const char*>(nlmsg_data(h)),
                                                            static_cast<size_t>(nlmsg_datalen(h)));
  return NL_OK;
}

// Every message of one dump request, payloads only.
Result<std::vector<std::string>> dump(nl_sock* sk, int type, const void* hdr, size_t len, const char* what) {
  std::vector<std::string> out;
  if (int e = nl_send_simple(sk, type, NLM_F_DUMP, const_cast<void*>(hdr), len); e < 0)
    return nl_fail(e, fmt::format("rtnetlink: list {}", what));
  nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_payload, &out);
  const int e = nl_recvmsgs_default(sk);
  nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_DEFAULT, nullptr, nullptr);
  if (e < 0) return nl_fail(e, fmt::format("rtnetlink: list {}", what));
  return out;
}

int on_object(nl_object* o, void* arg) {
  *static_cast<std::string*>(arg) = line_of(o);
  return NL_OK;
}
void on_parsed(nl_object* o, void* arg) { on_object(o, arg); }

// libnl's line for a saved message, to name it in an error.
std::string describe(int type, const std::string& payload) {
  nl_msg* m = nlmsg_alloc_simple(type, 0);
  if (!m) return "?";
  nlmsg_set_proto(m, NETLINK_ROUTE);  // libnl finds the parser by protocol and type
  std::string line = "?";
  if (nlmsg_append(m, const_cast<char*>(payload.data()), payload.size(), NLMSG_ALIGNTO) == 0)
    nl_msg_parse(m, on_parsed, &line);
  nlmsg_free(m);
  if (line == "?") {  // libnl could not read it: the message itself
    line = "rtnetlink message ";
    for (unsigned char c : payload) line += fmt::format("{:02x}", c);
  }
  return line;
}

// The local address of an RTM_NEWADDR payload ("127.0.0.1/8", "::1").
void on_addr(nl_object* o, void* arg) {
  char buf[128] = {};
  if (nl_addr* a = rtnl_addr_get_local(reinterpret_cast<rtnl_addr*>(o))) nl_addr2str(a, buf, sizeof buf);
  *static_cast<std::string*>(arg) = buf;
}
std::string local_of(const std::string& payload) {
  nl_msg* m = nlmsg_alloc_simple(RTM_NEWADDR, 0);
  if (!m) return "";
  nlmsg_set_proto(m, NETLINK_ROUTE);
  std::string out;
  if (nlmsg_append(m, const_cast<char*>(payload.data()), payload.size(), NLMSG_ALIGNTO) == 0)
    nl_msg_parse(m, on_addr, &out);
  nlmsg_free(m);
  return out;
}

// One saved message sent as a request; the kernel's errno, 0 if none.
int send(nl_sock* sk, int type, int flags, const std::string& payload) {
  nl_msg* m = nlmsg_alloc_simple(type, flags);
  if (!m) return -NLE_NOMEM;
  if (nlmsg_append(m, const_cast<char*>(payload.data()), payload.size(), NLMSG_ALIGNTO) != 0) {
    nlmsg_free(m);
    return -NLE_NOMEM;
  }
  return nl_send_sync(sk, m);  // frees m
}

Status replay(int type, int flags, const google::protobuf::RepeatedPtrField<std::string>& msgs, const char* what) {
  Sock sk = TRY(connect(NETLINK_ROUTE));
  for (const std::string& p : msgs)
    if (int e = send(sk.get(), type, NLM_F_CREATE | flags, p); e < 0)
      return nl_fail(e, fmt::format("{} '{}'", what, describe(type, p)));
  return {};
}

template <class T>
const T* header(const std::string& p) {
  return p.size() >= sizeof(T) ? reinterpret_cast<const T*>(p.data()) : nullptr;
}

Status read_links(nl_sock* sk, img::NetNs& out, const std::string& host_link) {
  nl_cache* raw = nullptr;
  if (int e = rtnl_link_alloc_cache(sk, AF_UNSPEC, &raw); e < 0) return nl_fail(e, "rtnetlink: list links");
  Cache c(raw);
  for (nl_object* o = nl_cache_get_first(c.get()); o; o = nl_cache_get_next(o)) {
    auto* l = reinterpret_cast<rtnl_link*>(o);
    const std::string name = rtnl_link_get_name(l) ? rtnl_link_get_name(l) : "?";
    const unsigned flags = rtnl_link_get_flags(l);
    if (flags & IFF_LOOPBACK) continue;  // lo: fields 1-4
    const std::string kind = rtnl_link_get_type(l) ? rtnl_link_get_type(l) : "";
    const int ifindex = rtnl_link_get_ifindex(l);
    if (kind != "dummy" && kind != "veth")
      return unsupported("net namespace: link {} ({}, index {}): not supported yet", name,
                         kind.empty() ? "no kind" : kind, ifindex);
    img::NetLink* r = out.add_links();
    r->set_name(name);
    r->set_ifindex(static_cast<uint32_t>(ifindex));
    r->set_kind(kind);
    r->set_mtu(rtnl_link_get_mtu(l));
    if (nl_addr* a = rtnl_link_get_addr(l))
      r->set_mac(std::string(static_cast<const char*>(nl_addr_get_binary_addr(a)), nl_addr_get_len(a)));
    r->set_flags(flags & kUserFlags);
    r->set_txqlen(rtnl_link_get_txqlen(l));
    if (int m = rtnl_link_get_master(l); m > 0)
      return unsupported("net namespace: link {} is a port of link index {}: not supported yet", name, m);
    if (kind == "veth") {
      int32_t nsid = -1;
      const bool elsewhere = rtnl_link_get_link_netnsid(l, &nsid) == 0 && nsid >= 0;
      if (elsewhere && name == host_link) {
        r->set_host_link(true);
      } else if (elsewhere) {
        return unsupported("net namespace: link {} (veth, index {}): its peer is in another net namespace: not "
                           "supported yet",
                           name, ifindex);
      } else {
        r->set_peer(static_cast<uint32_t>(rtnl_link_get_link(l)));
      }
    }
  }
  return {};
}

void fill(rtnl_link* l, const img::NetLink& r) {
  rtnl_link_set_name(l, r.name().c_str());
  rtnl_link_set_ifindex(l, static_cast<int>(r.ifindex()));
  if (r.mtu()) rtnl_link_set_mtu(l, r.mtu());
  rtnl_link_set_txqlen(l, r.txqlen());
  if (!r.mac().empty()) {
    nl_addr* a = nl_addr_build(AF_LLC, r.mac().data(), r.mac().size());
    if (a) {
      rtnl_link_set_addr(l, a);
      nl_addr_put(a);
    }
  }
}

Status change_flags(nl_sock* sk, int ifindex, unsigned flags, const std::string& name) {
  Link orig(rtnl_link_alloc()), ch(rtnl_link_alloc());
  if (!orig || !ch) return failf("net namespace: link {}: out of memory", name);
  rtnl_link_set_ifindex(orig.get(), ifindex);
  rtnl_link_set_flags(ch.get(), flags & kUserFlags);
  rtnl_link_unset_flags(ch.get(), kUserFlags & ~flags);
  if (int e = rtnl_link_change(sk, orig.get(), ch.get(), 0); e < 0)
    return nl_fail(e, fmt::format("net namespace: link {}: set its flags", name));
  return {};
}


// The host side up, so that the container's end has its carrier when it is
// verified (the controller gives the host side its address later): through
// a netlink socket made in the host's namespace (a socket keeps the
// namespace it was made in), the caller back in its own at once.
Status host_side_up(const std::string& name, int host_ns) {
  UniqueFd own = TRY(open_fd("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (::setns(host_ns, CLONE_NEWNET) != 0) return sys_fail("net namespace: join the host's to reach {}", name);
  auto sk = connect(NETLINK_ROUTE);
  const int idx = static_cast<int>(::if_nametoindex(name.c_str()));
  if (::setns(own.get(), CLONE_NEWNET) != 0) return sys_fail("net namespace: back from the host's");
  if (!sk) return std::unexpected(std::move(sk.error()));
  if (idx <= 0) return failf("net namespace: host side {} is not on the host", name);
  return change_flags(sk->get(), idx, IFF_UP | IFF_MULTICAST | IFF_BROADCAST, name);
}

}  // namespace

Status read_route_lines(std::multiset<std::string>& out) {
  Sock sk = TRY(connect(NETLINK_ROUTE));
  rtmsg r{};
  r.rtm_family = AF_UNSPEC;
  for (auto& p : TRY(dump(sk.get(), RTM_GETROUTE, &r, sizeof r, "routes"))) out.insert(describe(RTM_NEWROUTE, p));
  return {};
}

Status read_records(img::NetNs& out, const std::string& host_link) {
  Sock sk = TRY(connect(NETLINK_ROUTE));
  const int lo_index = static_cast<int>(::if_nametoindex("lo"));
  TRY(read_links(sk.get(), out, host_link));
  ifaddrmsg a{};
  a.ifa_family = AF_UNSPEC;
  for (auto& p : TRY(dump(sk.get(), RTM_GETADDR, &a, sizeof a, "addresses"))) {
    // lo's own (lo_has_ipv4/6): made again as it goes up; replaying them
    // would add a ::1/128 route of the main table the kernel does not make.
    const ifaddrmsg* h = header<ifaddrmsg>(p);
    if (!h) continue;
    if (static_cast<int>(h->ifa_index) == lo_index) {
      const std::string local = local_of(p);
      if (local == "127.0.0.1/8" || local == "::1" || local == "::1/128") continue;
    }
    out.add_addresses(std::move(p));
  }
  rtmsg r{};
  r.rtm_family = AF_UNSPEC;
  for (auto& p : TRY(dump(sk.get(), RTM_GETROUTE, &r, sizeof r, "routes"))) {
    // The kernel's own routes (for addresses: prefix, local, broadcast; IPv6
    // link-local and multicast) come back with the addresses and links.
    const rtmsg* h = header<rtmsg>(p);
    if (!h || h->rtm_protocol == RTPROT_KERNEL || (h->rtm_flags & RTM_F_CLONED)) continue;
    out.add_routes(std::move(p));
  }
  fib_rule_hdr fr{};
  fr.family = AF_UNSPEC;
  for (auto& p : TRY(dump(sk.get(), RTM_GETRULE, &fr, sizeof fr, "rules"))) out.add_rules(std::move(p));
  ndmsg n{};
  n.ndm_family = AF_UNSPEC;
  for (auto& p : TRY(dump(sk.get(), RTM_GETNEIGH, &n, sizeof n, "neighbours"))) {
    const ndmsg* h = header<ndmsg>(p);
    if (h && (h->ndm_state & NUD_PERMANENT)) out.add_neighbours(std::move(p));
  }
  n.ndm_flags = NTF_PROXY;
  for (auto& p : TRY(dump(sk.get(), RTM_GETNEIGH, &n, sizeof n, "proxy neighbours"))) out.add_neighbours(std::move(p));
  return {};
}

Status create_links(const img::NetNs& n, int host_ns) {
  Sock sk = TRY(connect(NETLINK_ROUTE));
  std::set<uint32_t> made;
  for (const img::NetLink& r : n.links()) {
    if (made.contains(r.ifindex())) continue;
    Link l(r.kind() == "veth" ? rtnl_link_veth_alloc() : rtnl_link_alloc());
    if (!l) return failf("net namespace: link {}: out of memory", r.name());
    if (r.kind() != "veth" && rtnl_link_set_type(l.get(), r.kind().c_str()) < 0)
      return failf("net namespace: link {}: unknown kind {}", r.name(), r.kind());
    fill(l.get(), r);
    if (r.kind() == "veth") {
      rtnl_link* peer = rtnl_link_veth_get_peer(l.get());
      Link peer_ref(peer);
      if (r.host_link()) {
        rtnl_link_set_name(peer, host_ns >= 0 ? n.host().host_name().c_str() : "amber-trial0");
        if (host_ns >= 0) {
          rtnl_link_set_ns_fd(peer, host_ns);
        } else {
          // The kernel registers the peer first: left to pick its index in
          // the same namespace, it would take the saved one of a link.
          uint32_t top = 0;
          for (const img::NetLink& o : n.links()) top = std::max(top, o.ifindex());
          rtnl_link_set_ifindex(peer, static_cast<int>(top + 1));
        }
      } else {
        const img::NetLink* other = nullptr;
        for (const img::NetLink& o : n.links())
          if (o.ifindex() == r.peer()) other = &o;
        if (!other) return bad_input("net namespace: link {}: its veth peer index {} is not in the image", r.name(), r.peer());
        fill(peer, *other);
        made.insert(other->ifindex());
      }
    }
    // The veth object owns its peer: freed with it (rtnl_link_veth_release).
    int e = rtnl_link_add(sk.get(), l.get(), NLM_F_CREATE | NLM_F_EXCL);
    if (r.kind() == "veth") rtnl_link_veth_release(l.release());
    if (e < 0) return nl_fail(e, fmt::format("net namespace: make link {} ({}, index {})", r.name(), r.kind(), r.ifindex()));
    made.insert(r.ifindex());
    if (r.host_link() && host_ns >= 0) TRY(host_side_up(n.host().host_name(), host_ns));
  }
  return {};
}


Status set_link_flags(const img::NetNs& n, bool trial) {
  Sock sk = TRY(connect(NETLINK_ROUTE));
  for (const img::NetLink& r : n.links()) {
    TRY(change_flags(sk.get(), static_cast<int>(r.ifindex()), r.flags(), r.name()));
    // A trial's stand-in for the host side: up as the host's is (the
    // carrier, and with it the routes' linkdown flag, depends on it).
    if (trial && r.host_link())
      if (int idx = static_cast<int>(::if_nametoindex("amber-trial0")); idx > 0) {
        // Without IPv6: no link-local address or routes of its own to tell apart.
        TRY(write_file("/proc/sys/net/ipv6/conf/amber-trial0/disable_ipv6", "1"));
        TRY(change_flags(sk.get(), idx, IFF_UP | IFF_MULTICAST, "amber-trial0"));
      }
  }
  return {};
}

std::string with_nodad(std::string p) {
  auto* h = reinterpret_cast<ifaddrmsg*>(p.data());
  if (p.size() < sizeof(ifaddrmsg) || h->ifa_family != AF_INET6) return p;
  h->ifa_flags |= IFA_F_NODAD;
  // IFA_FLAGS, when present, is what the kernel reads instead.
  for (size_t at = NLMSG_ALIGN(sizeof(ifaddrmsg)); at + sizeof(rtattr) <= p.size();) {
    auto* a = reinterpret_cast<rtattr*>(p.data() + at);
    if (a->rta_len < sizeof(rtattr) || at + a->rta_len > p.size()) break;
    if (a->rta_type == IFA_FLAGS && a->rta_len >= RTA_LENGTH(sizeof(uint32_t))) {
      uint32_t f;
      std::memcpy(&f, RTA_DATA(a), sizeof f);
      f |= IFA_F_NODAD;
      std::memcpy(RTA_DATA(a), &f, sizeof f);
    }
    at += RTA_ALIGN(a->rta_len);
  }
  return p;
}

Status replay_addresses(const img::NetNs& n, bool nodad) {
  // REPLACE: IPv6 link-local addresses are made by the kernel as links go
  // up; the saved ones give their flags.
  if (!nodad) return replay(RTM_NEWADDR, NLM_F_REPLACE, n.addresses(), "net namespace: address");
  google::protobuf::RepeatedPtrField<std::string> msgs;
  for (const std::string& p : n.addresses()) *msgs.Add() = with_nodad(p);
  return replay(RTM_NEWADDR, NLM_F_REPLACE, msgs, "net namespace: address");
}

Status replay_routes(const img::NetNs& n) {
  // A route via a gateway needs a route to the gateway first: rounds until
  // none is left or a round adds nothing.
  Sock sk = TRY(connect(NETLINK_ROUTE));
  std::vector<const std::string*> left;
  for (const std::string& p : n.routes()) left.push_back(&p);
  while (!left.empty()) {
    std::vector<const std::string*> again;
    int first_err = 0;
    for (const std::string* p : left)
      if (int e = send(sk.get(), RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, *p); e < 0) {
        if (!first_err) first_err = e;
        again.push_back(p);
      }
    if (again.size() == left.size())
      return nl_fail(first_err, fmt::format("net namespace: route '{}'", describe(RTM_NEWROUTE, *again.front())));
    left = std::move(again);
  }
  return {};
}

Status replay_rules(const img::NetNs& n) {
  Sock sk = TRY(connect(NETLINK_ROUTE));
  fib_rule_hdr fr{};
  fr.family = AF_UNSPEC;
  for (const std::string& p : TRY(dump(sk.get(), RTM_GETRULE, &fr, sizeof fr, "rules")))
    if (int e = send(sk.get(), RTM_DELRULE, 0, p); e < 0)
      return nl_fail(e, fmt::format("net namespace: remove the fresh namespace's rule '{}'", describe(RTM_NEWRULE, p)));
  return replay(RTM_NEWRULE, NLM_F_EXCL, n.rules(), "net namespace: rule");
}

Status replay_neighbours(const img::NetNs& n) {
  return replay(RTM_NEWNEIGH, NLM_F_EXCL, n.neighbours(), "net namespace: neighbour entry");
}

}  // namespace amber::kinds::net
