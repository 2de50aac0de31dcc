#include "kinds/ns/net.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>

#include "base/files.h"
#include "base/unique_fd.h"
#include "kinds/ns/net_lock.h"
#include "kinds/ns/net_rtnl.h"
#include "kinds/ns/net_view.h"
#include "sys/ns_thread.h"

namespace amber::kinds {

namespace {

// lo as the image has it: up first when the saved lo ever was (the kernel
// adds 127.0.0.1/8 and ::1/128 then, and keeps 127.0.0.1 when it goes
// down), the MTU, then down again if it was down.
Status apply_lo(const img::NetNs& n) {
  if (n.lo_up() || n.lo_has_ipv4()) TRY(net::set_lo_up(true));
  if (n.lo_mtu()) TRY(net::set_lo_mtu(n.lo_mtu()));
  if (!n.lo_up()) TRY(net::set_lo_up(false));
  return {};
}

void set_lo_state(const net::NetView& v, img::NetNs& out) {
  out.set_lo_up(v.lo_up);
  out.set_lo_mtu(v.lo_mtu);
  out.set_lo_has_ipv4(v.lo_has_ipv4);
  out.set_lo_has_ipv6(v.lo_has_ipv6);
}

// "ipv4/ip_forward" -> "net.ipv4.ip_forward"
std::string sysctl_name(const std::string& rel) {
  std::string s = "net." + rel;
  std::replace(s.begin(), s.end(), '/', '.');
  return s;
}

void choose_sysctls(const std::map<std::string, std::string>& ct, const std::map<std::string, std::string>& fresh,
                    img::NetNs& out) {
  out.clear_sysctls();
  for (auto& [k, v] : net::sysctls_to_write(ct, fresh)) {
    img::Sysctl* s = out.add_sysctls();
    s->set_name(k);
    s->set_value(v);
  }
}

// A sysctl's value under `dir` (/proc/sys/net).
Result<std::string> read_sysctl(int dir, const std::string& name) {
  UniqueFd f(::openat(dir, name.c_str(), O_RDONLY | O_CLOEXEC));
  if (!f) return sys_fail("sysctl {}: open", sysctl_name(name));
  char buf[4096];
  const ssize_t n = ::read(f.get(), buf, sizeof buf);
  if (n < 0) return sys_fail("sysctl {}: read", sysctl_name(name));
  return std::string(buf, static_cast<size_t>(n));
}

// `dir`: /proc/sys/net of a writable procfs (see restore_net).
Status apply_sysctls(const img::NetNs& n, int dir) {
  for (const img::Sysctl& s : n.sysctls()) {
    if (s.name().find("..") != std::string::npos || s.name().starts_with('/'))
      return bad_input("net namespace: sysctl name '{}' leads out of /proc/sys/net", s.name());
    UniqueFd f(::openat(dir, s.name().c_str(), O_WRONLY | O_CLOEXEC));
    if (!f) return sys_fail("net namespace: sysctl {}: open", sysctl_name(s.name()));
    if (::write(f.get(), s.value().data(), s.value().size()) < 0)
      return sys_fail("net namespace: sysctl {} = '{}'", sysctl_name(s.name()), s.value());
  }
  return {};
}

// Everything after the links, in the order the kernel needs it: sysctls
// (disable_ipv6, addr_gen_mode...) before addresses, addresses before the
// links go up, routes after the links are up, the ruleset last.
Status apply_rest(const img::NetNs& n, bool trial, int sysctl_dir) {
  TRY(apply_sysctls(n, sysctl_dir));
  TRY(net::replay_addresses(n, trial));
  TRY(net::set_link_flags(n, trial));
  TRY(net::replay_routes(n));
  TRY(net::replay_rules(n));
  TRY(net::replay_neighbours(n));
  TRY(net::nft_load_ruleset(n.nftables()));
  return {};
}

// The parts of a view the image's verification holds, one set per kind.
struct Lines {
  std::multiset<std::string> links, addresses, routes, rules, neighbours;
};
// The host link's line names its peer's ifindex and namespace id on the
// host ("slave-of 5 link-netnsid 0"), not the container's to keep.
std::string without_peer(std::string line) {
  for (const char* key : {" slave-of ", " link-netnsid "}) {
    auto at = line.find(key);
    if (at == std::string::npos) continue;
    auto end = line.find(' ', at + std::strlen(key));
    line.erase(at, end == std::string::npos ? std::string::npos : end - at);
  }
  return line;
}

// `host_link`: the host link's name ("" if none). `trial`: a trial's view
// or what it is compared with: the host link left out (its stand-in peer
// is inside, up without IPv6), and the trial's addresses' "nodad"
// (replay_addresses) taken off.
Lines lines_of(const net::NetView& v, const std::string& host_link, bool trial) {
  Lines l;
  l.links.insert(v.lo_line);
  for (const auto& s : v.links) {
    const bool host = !host_link.empty() && s.starts_with(host_link + " ");
    if (trial && (host || s.starts_with("amber-trial0 "))) continue;
    l.links.insert(host ? without_peer(s) : s);
  }
  for (const auto& a : v.addresses) l.addresses.insert(trial ? net::without_flag(a, "nodad") : a);
  l.routes = v.routes;
  l.rules = v.rules;
  l.neighbours = v.neighbours;
  for (const auto& p : v.proxy_neighbours) l.neighbours.insert("proxy " + p);
  return l;
}
Lines lines_of(const img::NetVerify& v) {
  Lines l;
  l.links.insert(v.links().begin(), v.links().end());
  l.addresses.insert(v.addresses().begin(), v.addresses().end());
  l.routes.insert(v.routes().begin(), v.routes().end());
  l.rules.insert(v.rules().begin(), v.rules().end());
  l.neighbours.insert(v.neighbours().begin(), v.neighbours().end());
  return l;
}

std::optional<std::string> first_difference(const char* what, const std::multiset<std::string>& want,
                                            const std::multiset<std::string>& got) {
  for (const auto& l : want)
    if (want.count(l) > got.count(l)) return fmt::format("{} '{}' is missing", what, l);
  for (const auto& l : got)
    if (got.count(l) > want.count(l)) return fmt::format("{} '{}' is extra", what, l);
  return std::nullopt;
}

std::optional<std::string> first_difference(const Lines& want, const Lines& got) {
  if (auto d = first_difference("link", want.links, got.links)) return d;
  if (auto d = first_difference("address", want.addresses, got.addresses)) return d;
  if (auto d = first_difference("route", want.routes, got.routes)) return d;
  if (auto d = first_difference("rule", want.rules, got.rules)) return d;
  return first_difference("neighbour entry", want.neighbours, got.neighbours);
}

std::optional<std::string> sysctl_difference(const std::map<std::string, std::string>& want,
                                             const std::map<std::string, std::string>& got) {
  for (const auto& [k, v] : want) {
    auto it = got.find(k);
    if (it == got.end()) return fmt::format("sysctl {} = '{}' is missing", sysctl_name(k), v);
    if (it->second != v) return fmt::format("sysctl {} is '{}', not '{}'", sysctl_name(k), it->second, v);
  }
  for (const auto& [k, v] : got)
    if (!want.contains(k)) return fmt::format("sysctl {} = '{}' is extra", sysctl_name(k), v);
  return std::nullopt;
}

std::optional<std::string> ruleset_difference(const std::string& want, const std::string& got) {
  if (want == got) return std::nullopt;
  auto w = split(want, '\n'), g = split(got, '\n');
  size_t i = 0;
  while (i < w.size() && i < g.size() && w[i] == g[i]) ++i;
  return fmt::format("nftables ruleset line {}: '{}' instead of '{}'", i + 1, i < g.size() ? trim(g[i]) : "",
                     i < w.size() ? trim(w[i]) : "");
}

// A link that goes up gets its carrier, IPv6 link-local address and
// multicast route from the kernel's linkwatch work, asynchronously (up to a
// second later): the view is read again until it has `want` or 3 s passed.
Result<net::NetView> settle(const Lines& want, const std::string& host_link, bool trial) {
  for (int round = 0;; ++round) {
    net::NetView v = TRY(net::read_view(false));
    Lines got = lines_of(v, host_link, trial);
    if (!first_difference(want, got) || round == 60) return v;
    ::usleep(50'000);
  }
}

template <class F>
auto in_fresh_netns(F&& fn) -> decltype(fn()) {
  std::optional<decltype(fn())> out;
  // unshare(CLONE_NEWNET) is allowed in one thread of a multi-threaded
  // process (only mnt, user and fs sharing are not); the namespace goes
  // with the thread, and with it every link the trial made.
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      out.emplace(sys_fail("unshare(CLONE_NEWNET) for a trial restore"));
      return;
    }
    out.emplace(fn());
  });
  t.join();
  return std::move(*out);
}

// The trial: the image made in a fresh namespace as the restore will make
// it, the sysctls chosen against the fresh namespace's own once its links
// exist (a new device's conf comes from conf/default), then read back.
Result<net::NetView> trial_restore(img::NetNs& rec, const std::map<std::string, std::string>& ct_sysctls,
                                   const Lines& want, const std::string& host_link) {
  TRY(apply_lo(rec));
  TRY(net::create_links(rec, -1));
  net::NetView before = TRY(net::read_view(true));
  choose_sysctls(ct_sysctls, before.sysctls, rec);
  const UniqueFd dir = TRY(open_fd("/proc/sys/net", O_PATH | O_DIRECTORY | O_CLOEXEC));
  TRY(apply_rest(rec, true, dir.get()));
  TRY(settle(want, host_link, true));
  return net::read_view(true);
}

}  // namespace

Result<img::NetNs> dump_net(pid_t pid, const img::HostLink* host) {
  UniqueFd ns = TRY(open_fd(fmt::format("/proc/{}/ns/net", pid), O_RDONLY | O_CLOEXEC));
  img::NetNs rec;
  const std::string host_link = host ? host->name() : "";
  net::NetView ct = TRY(sys::in_namespace(ns.get(), CLONE_NEWNET, [&]() -> Result<net::NetView> {
    net::NetView v = TRY(net::read_view(true));
    // An IPv6 address in duplicate address detection (a link that went up
    // just before) has no local route yet; the kernel ends it within a
    // second or two, held container or not.
    for (int round = 0; v.tentative && round < 60; ++round) {
      ::usleep(50'000);
      v = TRY(net::read_view(true));
    }
    TRY(net::read_records(rec, host_link));
    rec.set_nftables(v.nft_ruleset);
    return v;
  }));
  // x_tables have no netlink dump amber could replay (iptables-legacy's
  // own save format would be needed); nexthop objects no replay yet.
  for (const auto& t : ct.legacy_tables) return unsupported("net namespace: legacy table '{}': not supported yet", t);
  for (const auto& h : ct.nexthops)
    return unsupported("net namespace: nexthop object (rtnetlink message) '{}': not supported yet", h);
  set_lo_state(ct, rec);
  if (host) *rec.mutable_host() = *host;
  // The trial makes the host link's peer inside, under a name of its own:
  // neither that peer nor the host link's own line (its peer's namespace)
  // can compare.
  Lines want = lines_of(ct, host_link, true);
  auto tried = in_fresh_netns([&] { return trial_restore(rec, ct.sysctls, want, host_link); });
  if (!tried) {
    Error e = std::move(tried.error());
    e.exit = Exit::Unsupported;
    return std::unexpected(
        std::move(e).wrap("net namespace: a trial restore into a fresh namespace failed (not supported yet)"));
  }
  const net::NetView& trial = *tried;
  Lines got = lines_of(trial, host_link, true);
  auto diff = first_difference(want, got);
  if (!diff) {
    auto trial_sysctls = trial.sysctls;
    std::erase_if(trial_sysctls, [](const auto& kv) { return kv.first.find("/amber-trial0/") != std::string::npos; });
    diff = sysctl_difference(ct.sysctls, trial_sysctls);
  }
  if (!diff) diff = ruleset_difference(ct.nft_ruleset, trial.nft_ruleset);
  if (diff) return unsupported("net namespace: {} after a trial restore into a fresh namespace: not supported yet", *diff);
  // What the restore checks: the container's own view, with the host link.
  Lines keep = lines_of(ct, host_link, false);
  img::NetVerify* v = rec.mutable_verify();
  v->mutable_links()->Add(keep.links.begin(), keep.links.end());
  v->mutable_addresses()->Add(keep.addresses.begin(), keep.addresses.end());
  v->mutable_routes()->Add(keep.routes.begin(), keep.routes.end());
  v->mutable_rules()->Add(keep.rules.begin(), keep.rules.end());
  v->mutable_neighbours()->Add(keep.neighbours.begin(), keep.neighbours.end());
  rec.set_whole(true);
  return rec;
}

Status restore_net(const img::NetNs& n, int host_ns, int sysctl_dir) {
  if (!n.whole()) {
    // An image of amber before whole namespaces: lo only.
    TRY_CTX(apply_lo(n), "net namespace");
    net::NetView v = TRY_CTX(net::read_view(false), "net namespace");
    if (v.lo_up != n.lo_up() || v.lo_mtu != n.lo_mtu() || v.lo_has_ipv4 != n.lo_has_ipv4() ||
        v.lo_has_ipv6 != n.lo_has_ipv6())
      return failf("net namespace: lo restored {} (MTU {}, 127.0.0.1 {}, ::1 {}), the image has {} (MTU {}, {}, {})",
                   v.lo_up ? "up" : "down", v.lo_mtu, v.lo_has_ipv4, v.lo_has_ipv6, n.lo_up() ? "up" : "down",
                   n.lo_mtu(), n.lo_has_ipv4(), n.lo_has_ipv6());
    return {};
  }
  if (!n.host().host_name().empty() && host_ns < 0) return failf("net namespace: no host namespace for its host link");
  TRY_CTX(apply_lo(n), "net namespace");
  TRY(net::create_links(n, host_ns));
  // Locked before any link is up (net_lock.h): a peer's segment meeting a
  // connection not made yet would be answered with a RST, and one reaching
  // a restored connection before it is verified would change it. The
  // controller lifts the lock as the tasks are released.
  TRY(install_net_lock(n));
  TRY(apply_rest(n, false, sysctl_dir));
  // Restore verification, before any task runs.
  const Lines want = lines_of(n.verify());
  net::NetView got = TRY_CTX(settle(want, n.host().name(), false), "net namespace: read it back");
  if (auto d = first_difference(want, lines_of(got, n.host().name(), false)))
    return failf("net namespace: restored, {}", *d);
  for (const img::Sysctl& s : n.sysctls()) {
    auto text = read_sysctl(sysctl_dir, s.name());
    if (!text) return std::unexpected(std::move(text.error()).wrap("net namespace: read back"));
    if (trim(*text) != s.value())
      return failf("net namespace: restored, sysctl {} is '{}', not '{}'", sysctl_name(s.name()), trim(*text), s.value());
  }
  if (auto d = ruleset_difference(n.nftables(), got.nft_ruleset)) return failf("net namespace: restored, {}", *d);
  return {};
}

}  // namespace amber::kinds
