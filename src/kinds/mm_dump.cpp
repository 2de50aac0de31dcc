// Dump of an address space: classify the areas, read the mm fields, copy the
// pages into the page store in big batches.
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "base/files.h"
#include "base/parallel.h"
#include "kinds/completeness.h"
#include "kinds/mm.h"
#include "kinds/mm_internal.h"
#include "kinds/mm_smaps.h"
#include "kinds/vdso.h"
#include "sys/pagemap.h"

namespace amber::kinds {

using namespace mm_detail;

namespace {

// A buffer per copy worker, reused for the whole task: process_vm_readv into
// a fresh buffer pays for first-touch page faults (0.3 GB/s against 8-9 GB/s
// reused). 2 MiB: a batch stays in the cache between the read, the hash and
// the write (16 MiB batches made a 1 GiB dump ~20% slower here).
constexpr size_t kCopyBuffer = size_t{2} << 20;
constexpr size_t kIovMax = IOV_MAX;
static_assert(kCopyBuffer % image::kChunkSize == 0, "a batch is whole chunks of the page store");

// ---- classification ----

std::string maps_label(const sys::VmArea& a) {
  return area_label(a.start, a.end, a.deleted ? a.path + " (deleted)" : a.path, "");
}

bool is_anonymous_name(std::string_view p) {
  return p.empty() || p == "[heap]" || p == "[stack]" || p.starts_with("[anon:");
}

// Shared anonymous memory ("/dev/zero (deleted)": shmem_zero_setup names it
// so, whether it came from MAP_ANONYMOUS or from mapping /dev/zero) and
// memfds: objects of shmem.img, content dumped once for all holders.
bool is_shmem_object(const sys::VmArea& a) {
  return a.shared && a.deleted && (a.path == "/dev/zero" || a.path.starts_with("/memfd:"));
}

bool is_sysv_attach(const sys::VmArea& a) { return a.shared && a.deleted && a.path.starts_with("/SYSV"); }

// An unlinked file mapped MAP_SHARED (shm_open or sem_open, then unlink):
// an object of shmem.img too, when it lives on a tmpfs the container owns
// (dump_shmem checks the filesystem and refuses any other).
bool is_deleted_shared_file(const sys::VmArea& a) {
  return a.shared && a.deleted && a.path.starts_with("/") && !is_shmem_object(a) && !is_sysv_attach(a);
}

// Why the area cannot be checkpointed, "" if it can.
std::string refusal(const sys::VmArea& a, uint32_t sm) {
  const std::string& p = a.path;
  // [vvar] is a VM_PFNMAP area; the vdso family is placed, never copied.
  if (!a.shared && (p == "[vsyscall]" || is_vdso_name(p))) return "";
  if (p == "[secretmem]") return "memfd_secret";
  // io_setup's ring: its requests in flight cannot be read back.
  if (p == "/[aio]" && a.deleted) return "aio ring (io_setup)";
  if (p.starts_with("anon_inode:[io_uring]")) return "io_uring ring";
  if (sm & kSmHugetlb) return "hugetlb";
  if (sm & (kSmIo | kSmPfnMap)) return "device mapping";
  if (a.shared) {
    // A SysV shm attach: the segment is dumped with the ipc namespace
    // (kinds/ns/ipc_sysv.h), the area attaches it again by id (its inode).
    if (is_sysv_attach(a)) return "";
    if (is_shmem_object(a) || is_deleted_shared_file(a)) return "";
    if (p.starts_with("[anon_shmem:")) return "named shared anonymous memory";
    if (a.deleted) return "MAP_SHARED of a deleted special file";
    if (!p.starts_with("/")) return "MAP_SHARED of a special file";
    return "";  // a shared file mapping: mapped again from the file
  }
  if (sm & (kSmUffdMissing | kSmUffdWp | kSmUffdMinor)) return "registered with userfaultfd";
  if (sm & kSmShadowStack) return "shadow stack";
  // MAP_DROPPABLE exists for private anonymous memory only (do_mmap).
  if ((sm & kSmDroppable) && !(is_anonymous_name(p) && a.inode == 0)) return "droppable mapping of a file";
  if (is_anonymous_name(p)) return "";
  // An object of shmem.img, mapped privately (written pages dumped as for
  // a file): what execveat of a memfd leaves.
  if (p.starts_with("/memfd:") && a.deleted) return "";
  // An unlinked file mapped privately: an object of shmem.img too when it
  // is on a tmpfs (dump_shmem refuses any other filesystem by name).
  if (a.deleted && p.starts_with("/") && !p.starts_with("/SYSV")) return "";
  if (a.deleted) return "private mapping of a deleted file";
  if (p.starts_with("[")) return "unknown special mapping";
  if (!p.starts_with("/")) return "mapping of a special file";
  return "";
}

// Paths in /proc/PID/maps and /proc/PID/exe are as amber sees them, from
// its own root; the restored task opens them from its root (a container's
// rootfs). A path under the task's root is made relative to it; a file
// outside it cannot be opened by the task at all ("" then).
std::string path_in_root(const std::string& path, const std::string& root) {
  if (root == "/") return path;
  if (path.size() > root.size() && path.starts_with(root) && path[root.size()] == '/') return path.substr(root.size());
  return "";
}

uint32_t prot_of(const sys::VmArea& a) {
  return (a.read ? PROT_READ : 0) | (a.write ? PROT_WRITE : 0) | (a.exec ? PROT_EXEC : 0);
}

uint32_t extra_flags(uint32_t sm) {
  uint32_t f = 0;
  if (sm & kSmGrowsDown) f |= img::VMA_GROWSDOWN;
  if (sm & kSmNoReserve) f |= img::VMA_NORESERVE;
  if (sm & kSmDontFork) f |= img::VMA_DONTFORK;
  if (sm & kSmDontDump) f |= img::VMA_DONTDUMP;
  if (sm & kSmWipeOnFork) f |= img::VMA_WIPEONFORK;
  if (sm & kSmHugePage) f |= img::VMA_HUGEPAGE;
  if (sm & kSmNoHugePage) f |= img::VMA_NOHUGEPAGE;
  if (sm & kSmSealed) f |= img::VMA_SEALED;
  if (sm & kSmLocked) f |= img::VMA_LOCKED;
  if ((sm & kSmLocked) && (sm & kSmLockOnFault)) f |= img::VMA_LOCKONFAULT;
  if (sm & kSmDroppable) f |= img::VMA_DROPPABLE;
  return f;
}

img::VmArea classify(sys::VmArea a, uint32_t sm, const std::string& root) {
  std::string why = refusal(a, sm);
  const bool shmem = is_shmem_object(a) || is_deleted_shared_file(a);
  // A memfd mapped privately (an ELF the task execveat'ed from one): an
  // object of shmem.img too, never a path of the task's tree.
  const bool memfd = !a.shared && a.deleted && a.path.starts_with("/memfd:");
  if (why.empty() && !is_shmem_object(a) && !memfd && !is_sysv_attach(a) && a.path.starts_with("/")) {
    std::string inside = path_in_root(a.path, root);
    if (inside.empty()) why = fmt::format("mapped file outside the task's root {}", root);
    else a.path = std::move(inside);
  }
  img::VmArea v;
  v.set_start(a.start);
  v.set_end(a.end);
  v.set_prot(prot_of(a));
  uint32_t flags = a.shared ? img::VMA_SHARED : img::VMA_PRIVATE;
  if (a.path == "[vsyscall]") {
    flags |= img::VMA_VSYSCALL;
    v.set_name(a.path);
  } else if (is_vdso_name(a.path)) {
    flags |= img::VMA_VDSO;
    v.set_name(a.path);
  } else if (is_anonymous_name(a.path) && a.inode == 0) {
    flags |= img::VMA_ANON;
    v.set_name(a.path);
  } else {
    flags |= img::VMA_FILE;
    v.set_path(a.path);
    v.set_dev(makedev(a.dev_major, a.dev_minor));
    v.set_inode(a.inode);
    v.set_offset(a.offset);
    if (a.deleted) flags |= img::VMA_FILE_DELETED;
    if (a.path.starts_with("/memfd:")) flags |= img::VMA_MEMFD;
    if (a.path.starts_with("/SYSV") && a.shared) flags |= img::VMA_SYSVSHM;
    if (shmem) flags |= img::VMA_SHMEM;
    // A MAP_SHARED file area can be made writable only if its fd was open
    // for writing (VM_MAYWRITE): restore opens the file the same way.
    if (a.shared && (sm & kSmMayWrite)) flags |= img::VMA_MAYWRITE;
  }
  flags |= extra_flags(sm);
  if (!why.empty()) {
    flags |= img::VMA_UNSUPPORTED;
    v.mutable_unsupported()->set_what(fmt::format("area {}", maps_label(a)));
    v.mutable_unsupported()->set_reason(why);
  }
  v.set_flags(flags);
  return v;
}

// mlockall(MCL_FUTURE) sets mm->def_flags, which no /proc file shows; every
// area mapped afterwards inherits them (VM_LOCKED, VM_LOCKONFAULT). A probe
// page the dump maps itself is such an area: its VmFlags tell them. Shared
// anonymous, so that it never merges with a neighbour of the task.
class DefFlagsProbe {
 public:
  static Result<DefFlagsProbe> map(remote::RemoteTask& task) {
    // The crash journal (recover/) hears of it before the mmap and after.
    TRY(task.note_mapping(0, kPage, true));
    auto at = task.syscall_checked("mmap a probe page for mlockall flags", SYS_mmap, 0, kPage, PROT_NONE,
                                   MAP_SHARED | MAP_ANONYMOUS, static_cast<uint64_t>(-1), 0);
    if (!at) {
      (void)task.note_mapping(0, kPage, false);
      return std::unexpected(std::move(at.error()));
    }
    DefFlagsProbe probe(task, *at);
    TRY(task.note_mapping(*at, kPage, true));
    return probe;
  }
  DefFlagsProbe(DefFlagsProbe&& o) noexcept : task_(o.task_), at_(std::exchange(o.at_, 0)) {}
  DefFlagsProbe& operator=(DefFlagsProbe&&) = delete;
  ~DefFlagsProbe() { (void)unmap(); }
  uint64_t start() const { return at_; }
  Status unmap() {
    if (at_ == 0) return {};
    const uint64_t at = std::exchange(at_, 0);
    TRY(task_.syscall_checked("munmap the probe page", SYS_munmap, at, kPage));
    return task_.note_mapping(at, kPage, false);
  }

 private:
  DefFlagsProbe(remote::RemoteTask& task, uint64_t at) : task_(task), at_(at) {}
  remote::RemoteTask& task_;
  uint64_t at_;
};

uint32_t mlockall_flags_of(uint32_t probe_flags) {
  if (!(probe_flags & kSmLocked)) return 0;
  return MCL_FUTURE | ((probe_flags & kSmLockOnFault) ? MCL_ONFAULT : 0);
}

// One area of maps with its smaps flags, classified; `refusal` says why
// amber cannot dump it ("" if it can).
img::VmArea classify_checked(const sys::VmArea& a, const SmapsArea& sm, const std::string& root, std::string& refusal) {
  img::VmArea v = classify(a, sm.flags, root);
  if (v.flags() & img::VMA_UNSUPPORTED) {
    refusal = fmt::format("mapping {} ({}): not supported yet", maps_label(a), v.unsupported().reason());
    return v;
  }
  // Every VmFlags mnemonic is classified (completeness.h): one amber does
  // not restore refuses the area.
  const bool special = v.flags() & (img::VMA_VDSO | img::VMA_VSYSCALL);
  auto vf = check_vmflags(sm.mnemonics, special, fmt::format("mapping {}", maps_label(a)));
  if (vf)
    v.set_vm_flags(*vf);
  else
    refusal = vf.error().message;
  if ((v.flags() & img::VMA_ANON) && !(v.flags() & img::VMA_SHARED)) v.set_cow_shared_bytes(sm.shared_kb << 10);
  return v;
}

// Areas of maps with their smaps flags; the executor and the probe page are
// left out (the probe's flags go to *probe_flags).
Result<std::vector<img::VmArea>> classify_areas(const remote::RemoteTask& task, uint64_t probe,
                                                uint32_t* probe_flags) {
  const pid_t pid = task.tgid();
  auto maps = TRY(sys::read_maps(pid));
  auto smaps = TRY(read_smaps(pid));
  std::string root = TRY(read_link(fmt::format("/proc/{}/root", pid)));
  const uint64_t xs = task.executor_base(), xe = xs + task.executor_size();
  std::vector<img::VmArea> out;
  std::string refused;
  size_t k = 0;
  bool probe_seen = false;
  for (const sys::VmArea& a : maps) {
    if (task.has_executor() && a.start >= xs && a.end <= xe) continue;
    while (k < smaps.size() && smaps[k].start < a.start) k++;
    // smaps is read after maps: the task is stopped, so both list the same areas.
    if (k == smaps.size() || smaps[k].start != a.start || smaps[k].end != a.end)
      return failf("area {} is in maps but not in smaps", maps_label(a));
    if (a.start == probe && a.end == probe + kPage) {
      *probe_flags = smaps[k].flags;
      probe_seen = true;
      continue;
    }
    std::string why;
    out.push_back(classify_checked(a, smaps[k], root, why));
    if (!why.empty()) refused += fmt::format("{}{}", refused.empty() ? "" : "; ", why);
  }
  if (!refused.empty()) return unsupported("{}", refused);
  if (!probe_seen) return failf("the probe page {:x} is not in its maps", probe);
  return out;
}

// ---- mm fields ----

// The executable: a file of the task's tree by its path inside the root, or
// a memfd the task execveat'ed (an object of shmem.img, by dev and inode).
Status read_exe(pid_t pid, img::Mm& mm) {
  const std::string link = fmt::format("/proc/{}/exe", pid);
  std::string exe = TRY(read_link(link));
  if (exe.starts_with("/memfd:") && exe.ends_with(" (deleted)")) {
    struct stat st {};
    if (::stat(link.c_str(), &st) != 0) return sys_fail("stat {}", link);
    mm.set_exe_path(exe.substr(0, exe.size() - std::string_view(" (deleted)").size()));
    mm.set_exe_shmem_dev(st.st_dev);
    mm.set_exe_shmem_inode(st.st_ino);
    return {};
  }
  if (exe.ends_with(" (deleted)"))
    return unsupported("executable {} was deleted: not supported yet", exe);
  std::string root = TRY(read_link(fmt::format("/proc/{}/root", pid)));
  std::string inside = path_in_root(exe, root);
  if (inside.empty())
    return unsupported("executable {} is outside the task's root {}: not supported yet", exe, root);
  mm.set_exe_path(inside);
  return {};
}

Status read_mm_fields(remote::RemoteTask& task, img::Mm& mm) {
  const pid_t pid = task.tgid();
  sys::ProcStat st = TRY(sys::read_stat(pid));
  mm.set_start_code(st.start_code);
  mm.set_end_code(st.end_code);
  mm.set_start_data(st.start_data);
  mm.set_end_data(st.end_data);
  mm.set_start_brk(st.start_brk);
  mm.set_start_stack(st.start_stack);
  mm.set_arg_start(st.arg_start);
  mm.set_arg_end(st.arg_end);
  mm.set_env_start(st.env_start);
  mm.set_env_end(st.env_end);
  // The current brk is in no /proc file: brk(0) returns it unchanged.
  mm.set_brk(TRY(task.syscall_checked("brk(0)", SYS_brk, 0)));
  mm.set_auxv(TRY(read_file(fmt::format("/proc/{}/auxv", pid))));
  TRY(read_exe(pid, mm));
  TRY(check_vdso_whole(pid, mm));
  for (const img::VmArea& a : mm.areas())
    if (a.name() == "[vdso]") mm.set_vdso_xxh3(TRY(hash_vdso(pid, a.start(), a.end())));
  return {};
}

// ---- pages ----

// The copy buffer, faulted in by the kernel in one call (a user page fault
// costs microseconds in this VM: 4096 of them doubled the time of the first
// batch) and backed by huge pages where THP allows it.
class CopyBuffer {
 public:
  // `size`: at most kCopyBuffer; a small task gets a small buffer (zeroing
  // megabytes costs milliseconds, a real share of a small task's dump).
  static Result<CopyBuffer> create(size_t size) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return sys_fail("mmap a {} byte copy buffer", size);
    (void)::madvise(p, size, MADV_HUGEPAGE);
    (void)::madvise(p, size, MADV_POPULATE_WRITE);
    return CopyBuffer(static_cast<std::byte*>(p), size);
  }
  CopyBuffer(CopyBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), size_(o.size_) {}
  CopyBuffer& operator=(CopyBuffer&&) = delete;
  ~CopyBuffer() {
    if (p_) ::munmap(p_, size_);
  }
  std::byte* get() const { return p_; }

 private:
  CopyBuffer(std::byte* p, size_t size) : p_(p), size_(size) {}
  std::byte* p_;
  size_t size_;
};

// A stretch of a task's memory that goes to the page store, in address
// order; via_mem: the area has no PROT_READ (process_vm_readv has no
// FOLL_FORCE), so it is read through /proc/PID/mem.
struct Piece {
  uint64_t vaddr;
  uint64_t len;
  bool via_mem;
};

// Reads `pieces` back to back into `dst`: one process_vm_readv per up to
// IOV_MAX readable pieces, resuming after a partial read; pread of
// /proc/PID/mem for the others.
class MemoryReader {
 public:
  MemoryReader(pid_t pid, int mem_fd) : pid_(pid), mem_fd_(mem_fd) {}

  Status read(std::span<const Piece> pieces, std::byte* dst) {
    for (size_t i = 0; i < pieces.size();) {
      if (pieces[i].via_mem) {
        TRY(pread_mem(dst, pieces[i].len, pieces[i].vaddr));
        dst += pieces[i].len;
        i++;
        continue;
      }
      remote_.clear();
      size_t bytes = 0;
      for (; i < pieces.size() && !pieces[i].via_mem && remote_.size() < kIovMax; i++) {
        remote_.push_back({reinterpret_cast<void*>(pieces[i].vaddr), pieces[i].len});
        bytes += pieces[i].len;
      }
      TRY(readv(dst, bytes));
      dst += bytes;
    }
    return {};
  }

 private:
  Status readv(std::byte* dst, size_t bytes) {
    size_t done = 0, first = 0;
    while (done < bytes) {
      iovec local{dst + done, bytes - done};
      ssize_t n = ::process_vm_readv(pid_, &local, 1, remote_.data() + first, remote_.size() - first, 0);
      if (n < 0 && errno == EINTR) continue;
      uint64_t at = reinterpret_cast<uint64_t>(remote_[first].iov_base);
      if (n < 0) return sys_fail("read memory at {:x}", at);
      if (n == 0) return failf("read memory at {:x}: nothing read", at);
      done += static_cast<size_t>(n);
      // Skip the iovecs the partial read covered.
      for (size_t left = static_cast<size_t>(n); left > 0 && first < remote_.size();) {
        iovec& r = remote_[first];
        size_t k = std::min(left, r.iov_len);
        r.iov_base = static_cast<char*>(r.iov_base) + k;
        r.iov_len -= k;
        left -= k;
        if (r.iov_len == 0) first++;
      }
    }
    return {};
  }

  Status pread_mem(std::byte* dst, size_t len, uint64_t vaddr) {
    for (size_t done = 0; done < len;) {
      ssize_t n = ::pread(mem_fd_, dst + done, len - done, static_cast<off_t>(vaddr + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return sys_fail("read /proc/{}/mem at {:x}", pid_, vaddr + done);
      if (n == 0) return failf("read /proc/{}/mem at {:x}: nothing read", pid_, vaddr + done);
      done += static_cast<size_t>(n);
    }
    return {};
  }

  pid_t pid_;
  int mem_fd_;
  std::vector<iovec> remote_;
};

// MAP_SHARED areas never: a shared file's pages are the file itself, and
// shared memory objects are dumped once for every holder (shmem.h).
// MAP_DROPPABLE areas neither: the kernel may drop their pages at any time
// (they read as zero again), so a restore gives them back empty.
bool holds_pages(const img::VmArea& a) {
  return (a.flags() & (img::VMA_ANON | img::VMA_FILE)) &&
         !(a.flags() & (img::VMA_UNSUPPORTED | img::VMA_SHARED | img::VMA_DROPPABLE));
}

// The parent's areas a child's area may share pages with: the same private
// anonymous read-write area at the same place (what fork copied).
struct ParentMaps {
  pid_t pid = 0;  // 0: no parent task in the container
  std::optional<sys::Pagemap> pagemap;
  std::vector<sys::VmArea> maps;

  bool has_twin(const img::VmArea& a) const {
    if (!pagemap || !cow_area(a)) return false;
    auto it = std::lower_bound(maps.begin(), maps.end(), a.start(),
                               [](const sys::VmArea& m, uint64_t s) { return m.start < s; });
    return it != maps.end() && it->start == a.start() && it->end == a.end() && !it->shared && it->read &&
           it->write && !it->exec && it->inode == 0 && is_anonymous_name(it->path);
  }
};

Result<ParentMaps> open_parent(pid_t parent) {
  ParentMaps p;
  if (parent <= 0) return p;
  p.pid = parent;
  p.pagemap.emplace(TRY_CTX(sys::Pagemap::open(parent), "parent task"));
  p.maps = TRY_CTX(sys::read_maps(parent), "parent task");
  return p;
}

// Splits the present runs `runs` of an area into the pages that are the
// very same physical pages as the parent's at that address (copy-on-write
// since a fork: appended to `parent_runs`) and the task's own (returned).
// Two pagemap preads per stretch of runs; no per-page syscall.
Result<std::vector<sys::PageRun>> split_parent_pages(const sys::Pagemap& own, const ParentMaps& parent,
                                                     const std::vector<sys::PageRun>& runs,
                                                     std::vector<image::PageWriter::Run>& parent_runs) {
  // Pagemap entries are read over stretches of present runs (runs less
  // than this apart are read together): a huge sparse area costs what its
  // pages cost, not 8 bytes per page of its size.
  constexpr uint64_t kJoin = uint64_t{256} << 10;
  std::vector<sys::PageRun> out;
  std::vector<uint64_t> mine, theirs;
  for (size_t g = 0; g < runs.size();) {
    size_t h = g + 1;
    while (h < runs.size() && runs[h].start - runs[h - 1].end < kJoin) h++;
    const uint64_t gs = runs[g].start, ge = runs[h - 1].end;
    mine = TRY(own.entries(gs, ge));
    theirs = TRY_CTX(parent.pagemap->entries(gs, ge), "parent task {}", parent.pid);
    for (; g < h; g++) {
      const sys::PageRun& r = runs[g];
      for (uint64_t v = r.start; v < r.end; v += kPage) {
        const size_t i = (v - gs) / kPage;
        const uint64_t pfn = sys::pm_pfn(mine[i]);
        if (pfn != 0 && pfn == sys::pm_pfn(theirs[i])) {
          if (!parent_runs.empty() && parent_runs.back().vaddr + parent_runs.back().len == v)
            parent_runs.back().len += kPage;
          else
            parent_runs.push_back({v, kPage});
        } else if (!out.empty() && out.back().end == v && out.back().categories == r.categories) {
          out.back().end += kPage;
        } else {
          out.push_back({v, v + kPage, r.categories});
        }
      }
    }
  }
  return out;
}

// What of the task goes to the page store: present and swapped pages
// (PAGEMAP_SCAN leaves out holes and the shared zero page), but for the
// pages it shares with its parent (`parent_runs`).
Result<std::vector<Piece>> find_pieces(pid_t pid, img::Mm& mm, const ParentMaps& parent,
                                       std::vector<image::PageWriter::Run>& parent_runs) {
  sys::Pagemap pm = TRY(sys::Pagemap::open(pid));
  std::vector<Piece> pieces;
  for (img::VmArea& a : *mm.mutable_areas()) {
    if (!holds_pages(a)) continue;
    // A private file mapping: the page cache pages come from the file again;
    // only the pages the task wrote (copied on write, anonymous) are its own.
    sys::PageFilter filter = sys::dumpable_pages_filter(a.flags() & img::VMA_FILE);
    filter.returned |= sys::kPageGuard;
    auto runs = TRY_CTX(pm.scan(a.start(), a.end(), filter), "area {}", area_label(a));
    for (const sys::PageRun& r : runs)
      // MADV_GUARD_INSTALL markers read as swapped pages but fault on access.
      if (r.categories & sys::kPageGuard)
        return unsupported("mapping {} (guard region {:x}-{:x}): not supported yet", area_label(a),
                           r.start, r.end);
    const size_t shared_before = parent_runs.size();
    if (a.cow_shared_bytes() > 0 && parent.has_twin(a))
      runs = TRY_CTX(split_parent_pages(pm, parent, runs, parent_runs), "area {}", area_label(a));
    // A page shared copy-on-write with another process (after fork) would
    // be unshared by process_vm_readv: its read-only FOLL_PIN must break
    // the sharing (gup_must_unshare, Linux 5.19+), so a dump doubled such
    // memory of the live tasks. /proc/PID/mem reads with FOLL_GET, which
    // leaves it shared.
    const bool via_mem = !(a.prot() & PROT_READ) || a.cow_shared_bytes() > 0;
    for (const sys::PageRun& r : runs) pieces.push_back({r.start, r.end - r.start, via_mem});
    a.set_pages_in_store(!runs.empty() || parent_runs.size() > shared_before);
  }
  return pieces;
}

// The pieces inside the file range [from, to) of a store laid out as
// `pieces` back to back (`offsets`: each piece's file offset).
std::vector<Piece> pieces_in(const std::vector<Piece>& pieces, const std::vector<uint64_t>& offsets, uint64_t from,
                             uint64_t to) {
  std::vector<Piece> out;
  size_t i = static_cast<size_t>(std::upper_bound(offsets.begin(), offsets.end(), from) - offsets.begin()) - 1;
  for (; i < pieces.size() && offsets[i] < to; i++) {
    uint64_t s = std::max(from, offsets[i]), e = std::min(to, offsets[i] + pieces[i].len);
    out.push_back({pieces[i].vaddr + (s - offsets[i]), e - s, pieces[i].via_mem});
  }
  return out;
}

// The page store is laid out first (PageWriter::plan), then filled in
// batches of one buffer each by copy_workers() threads: each reads its
// batch from the task into its own reused buffer and writes it at its place
// in the file. One thread tops out near 1.5 GB/s here (the read, the hash
// and the tmpfs write are all memory copies); two reach the ~2.8 GB/s of
// KERNEL-NOTES "Memory pipelines".
Status dump_pages(pid_t pid, img::Mm& mm, const ParentMaps& parent, image::PageWriter& pages, Progress* progress) {
  std::vector<image::PageWriter::Run> parent_runs;
  std::vector<Piece> pieces = TRY(find_pieces(pid, mm, parent, parent_runs));
  TRY(pages.add_parent_runs(parent_runs));
  std::vector<image::PageWriter::Run> runs;
  std::vector<uint64_t> offsets;
  uint64_t total = 0;
  for (const Piece& p : pieces) {
    runs.push_back({p.vaddr, p.len});
    offsets.push_back(total);
    total += p.len;
  }
  TRY(pages.plan(runs));
  if (total == 0) return {};
  if (progress) progress->add_total(total);
  UniqueFd mem = TRY(open_fd(fmt::format("/proc/{}/mem", pid), O_RDONLY | O_CLOEXEC));
  const size_t batches = static_cast<size_t>((total + kCopyBuffer - 1) / kCopyBuffer);
  const unsigned workers = static_cast<unsigned>(std::min<size_t>(copy_workers(), batches));
  std::vector<CopyBuffer> bufs;
  std::vector<MemoryReader> readers;
  for (unsigned w = 0; w < workers; w++) {
    const size_t size = static_cast<size_t>(std::min<uint64_t>(total, kCopyBuffer));
    bufs.push_back(TRY(CopyBuffer::create(size)));
    readers.emplace_back(pid, mem.get());
  }
  return parallel_jobs(batches, workers, [&](size_t b, unsigned w) -> Status {
    const uint64_t from = b * kCopyBuffer, to = std::min(total, from + kCopyBuffer);
    TRY(readers[w].read(pieces_in(pieces, offsets, from, to), bufs[w].get()));
    TRY(pages.write_at(from, std::span<const std::byte>(bufs[w].get(), to - from)));
    if (progress) progress->advance(to - from);
    return {};
  });
}

}  // namespace

Status find_area_blockers(pid_t pid, pid_t vpid, Blockers& out) {
  auto maps = TRY_CTX(sys::read_maps(pid), "task {}", vpid);
  auto smaps = TRY_CTX(read_smaps(pid), "task {}", vpid);
  std::string root = TRY_CTX(read_link(fmt::format("/proc/{}/root", pid)), "task {}", vpid);
  size_t k = 0;
  for (const sys::VmArea& a : maps) {
    while (k < smaps.size() && smaps[k].start < a.start) k++;
    if (k == smaps.size() || smaps[k].start != a.start || smaps[k].end != a.end)
      return failf("task {}: area {} is in maps but not in smaps", vpid, maps_label(a));
    std::string why;
    classify_checked(a, smaps[k], root, why);
    if (!why.empty()) out.add(fmt::format("task {}: {}", vpid, why));
  }
  return {};
}

Result<img::Mm> dump_mm(remote::RemoteTask& task, image::PageWriter& pages, Progress* progress, pid_t parent) {
  const pid_t pid = task.tgid();
  const ParentMaps parent_maps = TRY(open_parent(parent));
  img::Mm mm;
  DefFlagsProbe probe = TRY(DefFlagsProbe::map(task));
  uint32_t probe_flags = 0;
  std::vector<img::VmArea> areas = TRY(classify_areas(task, probe.start(), &probe_flags));
  TRY(probe.unmap());
  mm.set_mlockall_flags(mlockall_flags_of(probe_flags));
  for (img::VmArea& a : areas) *mm.add_areas() = std::move(a);
  TRY(read_mm_fields(task, mm));
  TRY(dump_pages(pid, mm, parent_maps, pages, progress));
  return mm;
}

}  // namespace amber::kinds
