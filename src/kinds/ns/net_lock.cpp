#include "kinds/ns/net_lock.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "base/files.h"
#include "kinds/ns/net_view.h"
#include "sys/ns_thread.h"

namespace amber::kinds {

namespace {

// Two base chains on the links' own ingress and egress hooks (family
// netdev): a frame is dropped before anything else of the namespace sees
// it, ARP included, and a sender's drop at egress is NET_XMIT_DROP, which
// TCP retries and UDP reports as sent (ENOBUFS is not reported without
// IP_RECVERR) — the inet family's output hook would fail a send with EPERM.
// `create`: a table of that name there already fails the transaction.
std::string lock_commands(const std::vector<std::string>& links) {
  std::string devices;
  for (const std::string& l : links) devices += fmt::format("{}\"{}\"", devices.empty() ? "" : ", ", l);
  return fmt::format(
      "create table {0}\n"
      "add chain {0} in {{ type filter hook ingress devices = {{ {1} }} priority -500; policy drop; }}\n"
      "add chain {0} out {{ type filter hook egress devices = {{ {1} }} priority -500; policy drop; }}\n",
      net::kNetLockTable, devices);
}

// In the calling thread's namespace. false: there was no lock.
Result<bool> remove_lock() {
  auto r = net::nft_run(fmt::format("delete table {}", net::kNetLockTable), "lift the network lock");
  if (r) return true;
  // nft reports the kernel's ENOENT by its text only.
  if (r.error().message.find("No such file or directory") != std::string::npos) return false;
  return std::unexpected(std::move(r.error()));
}

Result<uint64_t> inode_of(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return sys_fail("fstat a net namespace");
  return static_cast<uint64_t>(st.st_ino);
}

}  // namespace

Result<std::vector<std::string>> net_lock_links(pid_t pid, bool external) {
  std::vector<std::string> links;
  if (external) return links;
  UniqueFd theirs = TRY(open_fd(fmt::format("/proc/{}/ns/net", pid), O_RDONLY | O_CLOEXEC));
  UniqueFd ours = TRY(open_fd("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  // Never the host's (or whichever amber runs in).
  if (TRY(inode_of(theirs.get())) == TRY(inode_of(ours.get()))) return links;
  // /proc/PID/net/dev: two header lines, then "  NAME: counters" per link.
  const std::string dev = TRY(read_file(fmt::format("/proc/{}/net/dev", pid)));
  auto lines = split(dev, '\n');
  for (size_t i = 2; i < lines.size(); ++i) {
    auto colon = lines[i].find(':');
    if (colon == std::string_view::npos) continue;
    const std::string name(trim(lines[i].substr(0, colon)));
    if (name != "lo") links.push_back(name);
  }
  return links;
}

bool net_lock_wanted(const img::NetNs& net) { return net.links_size() > 0; }

Result<NetLock> NetLock::take(pid_t pid, const std::vector<std::string>& links,
                              const std::function<Status(uint64_t)>& journal, Log& log) {
  NetLock l;
  l.log_ = &log;
  UniqueFd ns = TRY(open_fd(fmt::format("/proc/{}/ns/net", pid), O_RDONLY | O_CLOEXEC));
  TRY(journal(TRY(inode_of(ns.get()))));
  const std::string commands = lock_commands(links);
  auto made = sys::in_namespace(ns.get(), CLONE_NEWNET, [&] { return net::nft_run(commands, "network lock"); });
  if (!made) {
    if (made.error().message.find("File exists") != std::string::npos)
      return fail(Exit::Failed, fmt::format("network lock: the net namespace has a table {} already (amber's own: "
                                            "another amber holds the container, or `amber recover` could not "
                                            "lift a lock left by one that died)",
                                            net::kNetLockTable));
    return std::unexpected(std::move(made.error()));
  }
  l.ns_ = std::move(ns);
  l.taken_ = true;
  return l;
}

Result<NetLock> NetLock::adopt(pid_t pid) {
  NetLock l;
  l.ns_ = TRY(open_fd(fmt::format("/proc/{}/ns/net", pid), O_RDONLY | O_CLOEXEC));
  return l;
}

NetLock& NetLock::operator=(NetLock&& o) noexcept {
  if (this != &o) {
    if (taken_) (void)lift();
    ns_ = std::move(o.ns_);
    log_ = o.log_;
    taken_ = o.taken_;
  }
  return *this;
}

NetLock::~NetLock() {
  if (!taken_) return;
  if (auto r = lift(); !r && log_) log_->warn("{} (the container's links pass no packet)", r.error().message);
}

Status NetLock::lift() {
  if (!held()) return {};
  // Held still if this fails: the destructor tries again (and says so).
  const bool was = TRY(sys::in_namespace(ns_.get(), CLONE_NEWNET, [] { return remove_lock(); }));
  ns_.reset();
  // The restore's lock was made by the init: its absence is a restore
  // that went wrong, not a lock lifted twice.
  if (!was) return failf("network lock: the table {} is not there to lift", net::kNetLockTable);
  return {};
}

Status install_net_lock(const img::NetNs& net) {
  if (!net_lock_wanted(net)) return {};
  std::vector<std::string> links;
  for (const img::NetLink& l : net.links()) links.push_back(l.name());
  return net::nft_run(lock_commands(links), "network lock");
}

Result<bool> lift_net_lock(pid_t pid, uint64_t netns_inode) {
  auto ns = open_fd(fmt::format("/proc/{}/ns/net", pid), O_RDONLY | O_CLOEXEC);
  if (!ns) return false;  // the task is gone
  if (TRY(inode_of(ns->get())) != netns_inode) return false;
  return sys::in_namespace(ns->get(), CLONE_NEWNET, [] { return remove_lock(); });
}

}  // namespace amber::kinds
