#include "seal/scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <string_view>

#include "base/files.h"
#include "base/unique_fd.h"

namespace amber::seal {

namespace {

constexpr uint64_t kUserInitIno = 0xEFFFFFFDU;  // PROC_USER_INIT_INO
constexpr uint64_t kTimeInitIno = 0xEFFFFFFAU;  // PROC_TIME_INIT_INO
constexpr uint64_t kPfKthread = 0x00200000;     // PF_KTHREAD in /proc/PID/stat flags

// A task that exited meanwhile: its /proc entry is gone (ENOENT, ESRCH), or
// it is exiting and has no namespaces left (/proc/PID/mountinfo: EINVAL).
bool gone(const Error& e) { return e.sys_errno == ENOENT || e.sys_errno == ESRCH || e.sys_errno == EINVAL; }

// Numeric entries (fds, tids, pids) of a directory just opened, read with
// getdents64: no DIR stream (fdopendir's fcntl, a dup to keep the fd), a
// measurable part of a scan of every process.
std::vector<int> numeric_entries(int dirfd) {
  std::vector<int> out;
  alignas(8) char buf[8192];
  for (;;) {
    ssize_t n = ::getdents64(dirfd, buf, sizeof buf);
    if (n <= 0) return out;
    for (ssize_t off = 0; off < n;) {
      auto* e = reinterpret_cast<const struct dirent64*>(buf + off);
      off += e->d_reclen;
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      if (auto v = parse_int(e->d_name)) out.push_back(static_cast<int>(*v));
    }
  }
}

// readlinkat without allocation on the common path; "" if it is gone.
std::string link_at(int dirfd, const char* name) {
  char buf[4096];
  ssize_t n = ::readlinkat(dirfd, name, buf, sizeof buf);
  if (n <= 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

// "net:[4026531833]" -> 4026531833; 0 if the link is not of that form.
uint64_t ns_inode_of_link(std::string_view link) {
  size_t b = link.find(":[");
  if (b == std::string_view::npos || link.empty() || link.back() != ']') return 0;
  auto v = parse_uint(link.substr(b + 2, link.size() - b - 3));
  return v ? *v : 0;
}

Result<pid_t> vpid_at(pid_t pid, int level) {
  sys::ProcStatus st = TRY(sys::read_status(pid));
  if (level < 0 || static_cast<size_t>(level) >= st.ns_pid.size()) return pid_t{0};
  return st.ns_pid[static_cast<size_t>(level)];
}

// PROCMAP_QUERY (Linux 6.11; not in older <linux/fs.h>): an ioctl on an
// open /proc/PID/maps that returns one VMA, filtered by the kernel — the
// outside scan asks for shared VMAs only (the only ones the detectors look
// at) instead of having every mapping of every process formatted as text.
struct ProcmapQuery {
  uint64_t size, query_flags, query_addr;
  uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
  uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
  uint64_t vma_name_addr, build_id_addr;
};
static_assert(sizeof(ProcmapQuery) == 104);
constexpr unsigned long kProcmapQuery = 0xC0686611;  // _IOWR('f', 17, struct procmap_query)
constexpr uint64_t kVmaRead = 0x01, kVmaWrite = 0x02, kVmaExec = 0x04, kVmaShared = 0x08;
constexpr uint64_t kCoveringOrNext = 0x10;

// Unsupported: a kernel without PROCMAP_QUERY; Failed: any other error
// than the task being gone (read its maps as text instead).
enum class MapsQuery { Done, Gone, Unsupported, Failed };

// The shared mappings of the process whose /proc directory is `piddir`.
MapsQuery shared_maps(int piddir, std::vector<sys::VmArea>& out) {
  int raw = ::openat(piddir, "maps", O_RDONLY | O_CLOEXEC);
  if (raw < 0) return MapsQuery::Gone;
  UniqueFd maps(raw);
  char name[4096];
  uint64_t addr = 0;
  for (;;) {
    ProcmapQuery q{};
    q.size = sizeof q;
    q.query_flags = kVmaShared | kCoveringOrNext;
    q.query_addr = addr;
    q.vma_name_addr = reinterpret_cast<uintptr_t>(name);
    q.vma_name_size = sizeof name;
    if (::ioctl(maps.get(), kProcmapQuery, &q) < 0) {
      if (errno == ENOENT) return MapsQuery::Done;  // no shared VMA above addr
      if (errno == ENOTTY) return MapsQuery::Unsupported;
      if (errno == ESRCH) return MapsQuery::Gone;  // gone, a zombie
      return MapsQuery::Failed;
    }
    sys::VmArea a;
    a.start = q.vma_start;
    a.end = q.vma_end;
    a.read = q.vma_flags & kVmaRead;
    a.write = q.vma_flags & kVmaWrite;
    a.exec = q.vma_flags & kVmaExec;
    a.shared = q.vma_flags & kVmaShared;
    a.offset = q.vma_offset;
    a.dev_major = q.dev_major;
    a.dev_minor = q.dev_minor;
    a.inode = q.inode;
    if (q.vma_name_size > 1) a.path.assign(name, q.vma_name_size - 1);  // the size counts the NUL
    constexpr std::string_view deleted = " (deleted)";
    if (a.path.size() > deleted.size() && a.path.ends_with(deleted)) {
      a.path.resize(a.path.size() - deleted.size());
      a.deleted = true;
    }
    out.push_back(std::move(a));
    if (q.vma_end <= addr) return MapsQuery::Done;  // never loop
    addr = q.vma_end;
  }
}

}  // namespace

std::string ns_type_of_link(std::string_view link) {
  constexpr std::string_view suffix = "_for_children";
  if (link.size() > suffix.size() && link.substr(link.size() - suffix.size()) == suffix)
    return std::string(link.substr(0, link.size() - suffix.size()));
  return std::string(link);
}

bool is_initial_ns(std::string_view type, uint64_t inode) {
  return (type == "user" && inode == kUserInitIno) || (type == "time" && inode == kTimeInitIno);
}

const ContainerTask* ContainerView::task(pid_t pid) const {
  for (const auto& t : tasks)
    if (t.ref.pid == pid) return &t;
  return nullptr;
}

std::set<uint64_t> ContainerView::pidns_inodes() const {
  std::set<uint64_t> out;
  for (const auto& [ino, type] : ns)
    if (type == "pid") out.insert(ino);
  return out;
}

Result<ContainerView> read_container(const Target& target, const std::map<pid_t, std::vector<pid_t>>& procs,
                                     bool light) {
  ContainerView v;
  v.target = target;
  sys::ProcStatus init_status = TRY_CTX(sys::read_status(target.init), "init {}", target.init);
  v.vpid_level = static_cast<int>(init_status.ns_pid.size()) - 1;
  v.init_ns = TRY_CTX(sys::read_ns_inodes(target.init), "init {}", target.init);
  const uint64_t init_pidns = v.init_ns.at("pid");

  for (pid_t tid : TRY_CTX(sys::list_tids(::getpid()), "amber's threads")) v.excluded.insert(tid);
  v.excluded.insert(::getpid());
  for (const auto& s : target.shims) v.excluded.insert(s.pid);

  // Init first: reports name it as the container's main task.
  std::vector<pid_t> order;
  if (procs.count(target.init)) order.push_back(target.init);
  for (const auto& [pid, tids] : procs)
    if (pid != target.init) order.push_back(pid);

  for (pid_t pid : order) {
    const auto& tids = procs.at(pid);
    ContainerTask t;
    t.ref.pid = pid;
    t.tids = tids;
    v.held.insert(pid);
    v.held.insert(tids.begin(), tids.end());
    auto ctx = [&] { return fmt::format("container task {}", pid); };
    sys::ProcStat stat = TRY_CTX(sys::read_stat(pid), "{}", ctx());
    t.ref.comm = stat.comm;
    t.ref.vpid = TRY_CTX(vpid_at(pid, v.vpid_level), "{}", ctx());
    // Threads may each be in other namespaces (setns is per thread).
    for (pid_t tid : tids) {
      UniqueFd dir = TRY_CTX(open_fd(fmt::format("/proc/{}/task/{}/ns", pid, tid), O_RDONLY | O_DIRECTORY),
                             "{}", ctx());
      for (const char* l : kNsLinks) {
        uint64_t ino = ns_inode_of_link(link_at(dir.get(), l));
        if (!ino) continue;
        v.ns.emplace(ino, ns_type_of_link(l));
        if (tid == pid) t.ns[l] = ino;
      }
      if (!TRY_CTX(sys::pidns_within(tid, init_pidns), "{}", ctx()))
        v.outside_pidns.push_back(TaskRef{tid, 0, stat.comm});
    }
    if (light) {
      v.tasks.push_back(std::move(t));
      continue;
    }
    UniqueFd fddir = TRY_CTX(open_fd(fmt::format("/proc/{}/fd", pid), O_RDONLY | O_DIRECTORY), "{}", ctx());
    std::vector<int> fds = numeric_entries(fddir.get());
    std::sort(fds.begin(), fds.end());
    for (int fd : fds) {
      std::string link = link_at(fddir.get(), std::to_string(fd).c_str());
      if (!link.empty()) t.fds.push_back(FdRef{fd, std::move(link)});
    }
    t.maps = TRY_CTX(sys::read_maps(pid), "{}", ctx());
    v.tasks.push_back(std::move(t));
  }
  return v;
}

std::string HostIndex::comm(pid_t pid) {
  auto it = comms_.find(pid);
  if (it != comms_.end()) return it->second;
  auto c = read_file(fmt::format("/proc/{}/comm", pid));
  std::string name = c ? std::string(trim(*c)) : std::string("?");
  comms_.emplace(pid, name);
  return name;
}

namespace {

// What every scanning thread shares (read-only).
struct ScanContext {
  const ContainerView& view;
  const ScanWants& wants;
  std::vector<const char*> links;  // the ns links worth reading
  int proc = -1;                   // /proc
  bool want_maps = false;
};
// Per thread.
struct ScanState {
  bool procmap_query = true;  // until the kernel says it has none
  std::vector<sys::VmArea> shared;
};

// fds: only links the container also has (or nsfs links of its namespaces).
void scan_fds(int piddir, pid_t pid, const ScanContext& ctx, HostIndex& part, bool pipes_only) {
  if (ctx.wants.fd_links.empty()) return;
  int ffd = ::openat(piddir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (ffd < 0) return;
  UniqueFd fddir(ffd);
  for (int fd : numeric_entries(fddir.get())) {
    char name[16];
    snprintf(name, sizeof name, "%d", fd);
    std::string link = link_at(fddir.get(), name);
    if (link.empty() || !ctx.wants.fd_links.count(link)) continue;
    if (pipes_only && !link.starts_with("pipe:[")) continue;
    part.fds[link].push_back(FdHolder{pid, fd});
  }
}

// One outside process into `part`; a process that vanishes is skipped.
void scan_one(int pid, const ScanContext& ctx, ScanState& st, HostIndex& part) {
  char path[64];
  // The init's outside parent (Target::parents) is a shim, and is scanned
  // for its pipe ends alone.
  const auto& parents = ctx.view.target.parents;
  const bool parent = std::find(parents.begin(), parents.end(), pid) != parents.end();
  if (ctx.view.held.count(pid) || (ctx.view.excluded.count(pid) && !parent)) return;
  snprintf(path, sizeof path, "%d", pid);
  int raw = ::openat(ctx.proc, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (raw < 0) return;  // gone
  UniqueFd piddir(raw);

  // Kernel threads: no fds, no mappings, members of the initial namespaces
  // only; skipping them keeps "members" lists about real programs.
  std::string stat_text;
  {
    int sfd = ::openat(piddir.get(), "stat", O_RDONLY | O_CLOEXEC);
    if (sfd < 0) return;
    UniqueFd s(sfd);
    char buf[1024];
    ssize_t n = ::read(s.get(), buf, sizeof buf - 1);
    if (n <= 0) return;
    stat_text.assign(buf, static_cast<size_t>(n));
  }
  auto stat = sys::parse_stat(stat_text);
  if (!stat || (stat->flags & kPfKthread)) return;
  // A zombie runs no code and holds nothing (its fds and most namespaces
  // went at exit); it is also in no cgroup listing, so a zombie child of
  // a container task would look like a pid namespace member outside the
  // container's cgroup.
  if (stat->state == 'Z' || stat->state == 'X') return;
  if (parent) {
    scan_fds(piddir.get(), pid, ctx, part, /*pipes_only=*/true);
    return;
  }
  ++part.processes;

  // Namespaces, per thread when there are several (setns is per thread).
  std::vector<int> tids{pid};
  if (stat->num_threads > 1) {
    int tfd = ::openat(piddir.get(), "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (tfd >= 0) {
      UniqueFd taskdir(tfd);
      tids = numeric_entries(taskdir.get());
    }
  }
  for (int tid : tids) {
    char nspath[64];
    snprintf(nspath, sizeof nspath, "task/%d/ns", tid);
    int nfd = ::openat(piddir.get(), tid == pid ? "ns" : nspath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (nfd < 0) continue;
    UniqueFd nsdir(nfd);
    for (const char* l : ctx.links) {
      uint64_t ino = ns_inode_of_link(link_at(nsdir.get(), l));
      if (!ino) continue;
      if (ctx.view.ns.count(ino)) part.ns_members[ino].push_back(NsMember{pid, tid, l});
      if (ctx.wants.mount_namespaces && tid == pid && !std::strcmp(l, "mnt") && !ctx.view.ns.count(ino))
        part.mount_namespaces.emplace(ino, pid);
    }
  }

  scan_fds(piddir.get(), pid, ctx, part, /*pipes_only=*/false);

  if (ctx.want_maps) {
    st.shared.clear();
    MapsQuery q = st.procmap_query ? shared_maps(piddir.get(), st.shared) : MapsQuery::Unsupported;
    if (q == MapsQuery::Gone) return;
    if (q == MapsQuery::Unsupported || q == MapsQuery::Failed) {
      if (q == MapsQuery::Unsupported) st.procmap_query = false;
      st.shared.clear();
      auto maps = sys::read_maps(pid);
      if (!maps) return;  // gone, or a task that hides its maps
      st.shared = std::move(*maps);
    }
    for (auto& a : st.shared) {
      auto key = std::make_pair(dev_of(a), a.inode);
      if (a.inode && ctx.wants.maps.count(key)) part.maps[key].push_back(MapHolder{pid, a});
      if (ctx.wants.sysv_maps && a.path.rfind("/SYSV", 0) == 0) part.sysv.push_back(MapHolder{pid, a});
    }
  }
}

template <class V>
void append(V& into, V& from) {
  into.insert(into.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

// Parts are merged in thread order, then every holder list sorted by pid:
// reports do not depend on which thread saw what.
void merge_into(HostIndex& idx, HostIndex& part) {
  idx.processes += part.processes;
  for (auto& [k, v] : part.ns_members) append(idx.ns_members[k], v);
  for (auto& [k, v] : part.fds) append(idx.fds[k], v);
  for (auto& [k, v] : part.maps) append(idx.maps[k], v);
  for (auto& [k, v] : part.mount_namespaces) {
    auto [it, fresh] = idx.mount_namespaces.emplace(k, v);
    if (!fresh) it->second = std::min(it->second, v);
  }
  append(idx.sysv, part.sysv);
}

void sort_holders(HostIndex& idx) {
  auto by_pid = [](const auto& a, const auto& b) { return a.pid < b.pid; };
  for (auto& [k, v] : idx.ns_members) std::stable_sort(v.begin(), v.end(), by_pid);
  for (auto& [k, v] : idx.fds) std::stable_sort(v.begin(), v.end(), by_pid);
  for (auto& [k, v] : idx.maps) std::stable_sort(v.begin(), v.end(), by_pid);
  std::stable_sort(idx.sysv.begin(), idx.sysv.end(), by_pid);
}

}  // namespace

Result<HostIndex> scan_host(const ContainerView& view, const ScanWants& wants) {
  UniqueFd proc = TRY(open_fd("/proc", O_RDONLY | O_DIRECTORY));
  std::vector<int> pids = numeric_entries(proc.get());
  ScanContext ctx{view, wants, {}, proc.get(), !wants.maps.empty() || wants.sysv_maps};
  // The ns links worth reading: those of a type the container has a
  // namespace of that is not always accepted (the host's initial user and
  // time namespaces are), and mnt when every outside mount namespace is
  // wanted.
  for (const char* l : kNsLinks) {
    const std::string type = ns_type_of_link(l);
    bool needed = wants.mount_namespaces && type == "mnt";
    for (const auto& [ino, t] : view.ns) needed |= t == type && !is_initial_ns(t, ino);
    if (needed) ctx.links.push_back(l);
  }

  // Reading /proc is syscall-bound and every process is independent: one
  // thread per core (at most 4), pids dealt round-robin so each gets a
  // similar mix. The threads only read; each fills its own part.
  unsigned n = std::clamp(std::thread::hardware_concurrency(), 1U, 4U);
  if (pids.size() < 64) n = 1;
  std::vector<HostIndex> parts(n);
  auto work = [&](unsigned k) {
    ScanState st;
    for (size_t i = k; i < pids.size(); i += n) scan_one(pids[i], ctx, st, parts[k]);
  };
  std::vector<std::thread> threads;
  for (unsigned k = 1; k < n; ++k) threads.emplace_back(work, k);
  work(0);
  for (auto& t : threads) t.join();

  HostIndex idx;
  for (auto& part : parts) merge_into(idx, part);
  sort_holders(idx);
  return idx;
}

Status load_outside_mounts(HostIndex& idx) {
  if (idx.mounts_loaded) return {};
  for (const auto& [ino, pid] : idx.mount_namespaces) {
    auto mi = sys::read_mountinfo(pid);
    if (!mi && gone(mi.error())) continue;
    if (!mi) return std::unexpected(std::move(mi.error()).wrap(fmt::format("mounts of outside task {}", pid)));
    idx.mounts.emplace(ino, std::move(*mi));
  }
  idx.mounts_loaded = true;
  return {};
}

}  // namespace amber::seal
