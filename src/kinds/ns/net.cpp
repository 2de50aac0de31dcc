#include "kinds/ns/net.h"

#include <fcntl.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <optional>
#include <thread>

#include "base/files.h"
#include "base/unique_fd.h"
#include "kinds/ns/net_view.h"
#include "sys/ns_thread.h"

namespace amber::kinds {

namespace {

// What the restore does to the fresh namespace's lo, and the dump to its
// own fresh one to compare: up first when the saved lo ever was (the kernel
// adds 127.0.0.1/8 and ::1/128 then, and keeps 127.0.0.1 when it goes down),
// the MTU, then down again if it was down.
Status apply_lo(const img::NetNs& n) {
  if (n.lo_up() || n.lo_has_ipv4()) TRY(net::set_lo_up(true));
  if (n.lo_mtu()) TRY(net::set_lo_mtu(n.lo_mtu()));
  if (!n.lo_up()) TRY(net::set_lo_up(false));
  return {};
}

img::NetNs lo_state(const net::NetView& v) {
  img::NetNs out;
  out.set_lo_up(v.lo_up);
  out.set_lo_mtu(v.lo_mtu);
  out.set_lo_has_ipv4(v.lo_has_ipv4);
  out.set_lo_has_ipv6(v.lo_has_ipv6);
  return out;
}

}  // namespace

// A fresh net namespace of its own, unshared by a thread of ours (allowed
// in one thread of a multi-threaded process: only mnt, user and fs sharing
// are not) and gone with it; lo brought into a given state, then read.
class FreshNetns {
 public:
  FreshNetns() : thread_([this] { run(); }) {}
  ~FreshNetns() {
    give_lo(std::nullopt);
    if (thread_.joinable()) thread_.join();
  }
  void give_lo(std::optional<img::NetNs> lo) {
    if (given_.exchange(true)) return;
    if (lo) lo_given_ = *lo;
    lo_.set_value(std::move(lo));
  }
  // The lo state it was given (only after give_lo).
  const img::NetNs& lo_given() const { return lo_given_; }
  Result<net::NetView> view() {
    give_lo(std::nullopt);  // no-op once given
    if (thread_.joinable()) thread_.join();
    return std::move(*out_);
  }

 private:
  void run() {
    const bool made = ::unshare(CLONE_NEWNET) == 0;
    const int err = errno;
    std::optional<img::NetNs> lo = lo_.get_future().get();
    if (!made) {
      out_.emplace(sys_fail_errno(err, "unshare(CLONE_NEWNET) for a fresh net namespace to compare with"));
    } else if (!lo) {
      out_.emplace(failf("fresh net namespace: no state for lo was given"));
    } else if (auto r = apply_lo(*lo); !r) {
      out_.emplace(std::unexpected(std::move(r.error()).wrap("fresh net namespace")));
    } else {
      out_.emplace(net::read_view(true));
    }
  }
  std::promise<std::optional<img::NetNs>> lo_;
  std::atomic<bool> given_{false};
  img::NetNs lo_given_;
  std::optional<Result<net::NetView>> out_;
  std::thread thread_;  // last: starts once the rest is built
};

namespace {

// "ipv4/ip_forward" -> "net.ipv4.ip_forward"
std::string sysctl_name(const std::string& rel) {
  std::string s = "net." + rel;
  std::replace(s.begin(), s.end(), '/', '.');
  return s;
}

Status refuse_difference(const char* what, const std::multiset<std::string>& ct,
                         const std::multiset<std::string>& fresh) {
  for (const auto& l : ct)
    if (ct.count(l) > fresh.count(l)) return unsupported("net namespace: {} '{}': not supported yet", what, l);
  for (const auto& l : fresh)
    if (fresh.count(l) > ct.count(l))
      return unsupported("net namespace: {} '{}' of a fresh namespace was removed: not supported yet", what, l);
  return {};
}

Status refuse_difference(const char* what, const std::set<std::string>& ct, const std::set<std::string>& fresh) {
  return refuse_difference(what, std::multiset<std::string>(ct.begin(), ct.end()),
                           std::multiset<std::string>(fresh.begin(), fresh.end()));
}

Status compare(const net::NetView& ct, const net::NetView& fresh) {
  // lo's flags but up (promisc, allmulti...), qdisc and the like: the
  // restore sets only up/down and the MTU.
  if (ct.lo_line != fresh.lo_line)
    return unsupported("net namespace: lo '{}' (a fresh namespace's lo in the same up state and MTU: '{}'): not "
                       "supported yet",
                       ct.lo_line, fresh.lo_line);
  TRY(refuse_difference("nftables table", ct.nft_tables, fresh.nft_tables));
  TRY(refuse_difference("legacy table", ct.legacy_tables, fresh.legacy_tables));
  TRY(refuse_difference("address", ct.addresses, fresh.addresses));
  TRY(refuse_difference("route", ct.routes, fresh.routes));
  TRY(refuse_difference("rule", ct.rules, fresh.rules));
  TRY(refuse_difference("neighbour", ct.neighbours, fresh.neighbours));
  TRY(refuse_difference("proxy neighbour entry (rtnetlink message)", ct.proxy_neighbours, fresh.proxy_neighbours));
  TRY(refuse_difference("nexthop object (rtnetlink message)", ct.nexthops, fresh.nexthops));
  for (const auto& [k, v] : ct.sysctls) {
    auto it = fresh.sysctls.find(k);
    if (it == fresh.sysctls.end())
      return unsupported("net namespace: sysctl {} = '{}', which a fresh namespace does not have: not supported yet",
                         sysctl_name(k), v);
    if (it->second != v)
      return unsupported("net namespace: sysctl {} = '{}' (a fresh namespace has '{}'): not supported yet",
                         sysctl_name(k), v, it->second);
  }
  for (const auto& [k, v] : fresh.sysctls)
    if (!ct.sysctls.contains(k))
      return unsupported("net namespace: sysctl {} of a fresh namespace ('{}') is missing: not supported yet",
                         sysctl_name(k), v);
  if (ct.lo_up != fresh.lo_up || ct.lo_mtu != fresh.lo_mtu)
    return failf("net namespace: lo would be restored {} with MTU {}, not {} with MTU {}", fresh.lo_up ? "up" : "down",
                 fresh.lo_mtu, ct.lo_up ? "up" : "down", ct.lo_mtu);
  return {};
}

}  // namespace

void FreshNetnsDeleter::operator()(FreshNetns* f) const { delete f; }

FreshNetnsPtr start_fresh_netns() {
  img::NetNs guess;  // lo as amber run leaves it (container::loopback_up)
  guess.set_lo_up(true);
  guess.set_lo_mtu(kNewLoopbackMtu);
  guess.set_lo_has_ipv4(true);
  guess.set_lo_has_ipv6(true);
  FreshNetnsPtr f(new FreshNetns);
  f->give_lo(guess);
  return f;
}

Result<img::NetNs> dump_net(pid_t pid, FreshNetns* started) {
  UniqueFd ns = TRY(open_fd(fmt::format("/proc/{}/ns/net", pid), O_RDONLY | O_CLOEXEC));
  // A fresh namespace for the lo state the restore will give: the one
  // started early if it guessed right, else one started as soon as the
  // container's lo is read, both read in parallel (the ~600-file sysctl
  // walks dominate).
  FreshNetnsPtr late;
  auto same = [](const img::NetNs& a, const img::NetNs& b) {
    return a.lo_up() == b.lo_up() && a.lo_mtu() == b.lo_mtu() && a.lo_has_ipv4() == b.lo_has_ipv4() &&
           a.lo_has_ipv6() == b.lo_has_ipv6();
  };
  net::NetView ct = TRY(sys::in_namespace(ns.get(), CLONE_NEWNET, [&] {
    return net::read_view(true, [&](const net::NetView& v) {
      if (started && same(started->lo_given(), lo_state(v))) return;
      late.reset(new FreshNetns);
      late->give_lo(lo_state(v));
    });
  }));
  // Links first: their addresses, routes and sysctls differ because of them.
  for (const auto& l : ct.links) return unsupported("net namespace: link {}: not supported yet", l);
  net::NetView fv = TRY(late ? late->view() : started->view());
  TRY(compare(ct, fv));
  return lo_state(ct);
}

Status restore_net(const img::NetNs& n) {
  TRY_CTX(apply_lo(n), "net namespace");
  net::NetView v = TRY_CTX(net::read_view(false), "net namespace");
  if (v.lo_up != n.lo_up() || v.lo_mtu != n.lo_mtu() || v.lo_has_ipv4 != n.lo_has_ipv4() ||
      v.lo_has_ipv6 != n.lo_has_ipv6())
    return failf("net namespace: lo restored {} (MTU {}, 127.0.0.1 {}, ::1 {}), the image has {} (MTU {}, {}, {})",
                 v.lo_up ? "up" : "down", v.lo_mtu, v.lo_has_ipv4, v.lo_has_ipv6, n.lo_up() ? "up" : "down",
                 n.lo_mtu(), n.lo_has_ipv4(), n.lo_has_ipv6());
  return {};
}

}  // namespace amber::kinds
