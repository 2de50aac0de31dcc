// Restore of an address space inside a stopped task, driven from outside
// through remote syscalls (batched by the executor) and bulk memory writes.
#include <fcntl.h>
#include <limits.h>
#include <linux/prctl.h>
#include <linux/userfaultfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <map>
#include <optional>
#include <utility>

#include "base/files.h"
#include "base/parallel.h"
#include "kinds/mm.h"
#include "kinds/mm_cow.h"
#include "kinds/mm_internal.h"
#include "kinds/vdso.h"
#include "sys/pidfd.h"
#include "sys/resolve.h"
#include "sys/ptrace.h"
#include "sys/uffd.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif
#ifndef SYS_mseal
#define SYS_mseal 462
#endif
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01
#endif

namespace amber::kinds {

using namespace mm_detail;
using remote::Call;
using remote::make_call;
using remote::RemoteTask;

namespace {

constexpr uint64_t kRseqFlagUnregister = 1;
// Files opened at once in the task while mapping (its RLIMIT_NOFILE is
// amber's, usually 1024, and it holds a few fds of its own).
constexpr size_t kOpenPerRound = 256;

// Calls run in one batch, each with the label its error names ("task N:
// LABEL: strerror") and, for an mmap, the address it must return.
class Batch {
 public:
  void add(Call c, std::string label, uint64_t must_return = 0) {
    calls_.push_back(c);
    labels_.push_back(std::move(label));
    expect_.push_back(must_return);
  }
  bool empty() const { return calls_.empty(); }
  const Call& call(size_t i) const { return calls_[i]; }
  Status run(RemoteTask& task) {
    Status st = task.run_batch(calls_);
    for (size_t i = 0; i < calls_.size(); i++) {
      const Call& c = calls_[i];
      if (c.failed()) return sys_fail_errno(static_cast<int>(-c.result), "task {}: {}", task.tgid(), labels_[i]);
      if (c.ran && expect_[i] && static_cast<uint64_t>(c.result) != expect_[i])
        return failf("task {}: {}: mapped at {:x}", task.tgid(), labels_[i], c.result);
    }
    return st;
  }
  void clear() {
    calls_.clear();
    labels_.clear();
    expect_.clear();
  }

 private:
  std::vector<Call> calls_;
  std::vector<std::string> labels_;
  std::vector<uint64_t> expect_;
};

Call stop_on_error(Call c) {
  c.stop_on_error = true;
  return c;
}

// Packs NUL-terminated strings and structs into the executor's scratch area.
class Scratch {
 public:
  explicit Scratch(const RemoteTask& task) : base_(task.scratch_addr()), cap_(task.scratch_size()) {}
  // Address the bytes will have in the task; 0 if they do not fit.
  uint64_t put(std::string_view bytes, bool nul = false) {
    size_t at = (buf_.size() + 7) & ~size_t{7};
    if (at + bytes.size() + (nul ? 1 : 0) > cap_) return 0;
    buf_.resize(at);
    buf_.append(bytes);
    if (nul) buf_.push_back('\0');
    return base_ + at;
  }
  Status flush(const RemoteTask& task) {
    if (buf_.empty()) return {};
    return context(task.write(base_, std::as_bytes(std::span(buf_.data(), buf_.size()))),
                   fmt::format("task {}: write scratch", task.tgid()));
  }
  void clear() { buf_.clear(); }

 private:
  uint64_t base_;
  size_t cap_;
  std::string buf_;
};

// openat2 of an image's path by the task itself (sys::kTaskPath: no /proc
// magic link out of its root); its arguments in the scratch area. nullopt:
// they do not fit.
std::optional<Call> open_call(Scratch& scratch, const std::string& path, int flags) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = sys::kTaskPath;
  uint64_t h = scratch.put(std::string_view(reinterpret_cast<const char*>(&how), sizeof how));
  uint64_t p = h ? scratch.put(path, true) : 0;
  if (!p) return std::nullopt;
  return make_call(SYS_openat2, static_cast<uint64_t>(AT_FDCWD), p, h, sizeof how);
}

// ---- steps ----

// The executor must not be in the way of any saved area.
Status check_executor_place(const RemoteTask& task, const img::Mm& mm) {
  const uint64_t xs = task.executor_base(), xe = xs + task.executor_size();
  for (const img::VmArea& a : mm.areas())
    if (a.start() < xe && xs < a.end())
      return failf("task {}: the executor {:x}-{:x} overlaps the saved area {}", task.tgid(), xs, xe, area_label(a));
  return {};
}

// glibc registers an rseq area in its TLS; the kernel writes it on every
// return to user space, so once the TLS is unmapped the task dies with
// SIGSEGV. Unregistered first (the thread kind registers the saved one), in
// the teardown's batch: one ptrace stop less per task.
Status unregister_rseq(RemoteTask& task, Batch& batch) {
  __ptrace_rseq_configuration rc = TRY_CTX(sys::get_rseq_configuration(task.tid()), "task {}", task.tgid());
  if (rc.rseq_abi_pointer == 0) return {};
  batch.add(stop_on_error(make_call(SYS_rseq, rc.rseq_abi_pointer, rc.rseq_abi_size, kRseqFlagUnregister,
                                    rc.signature)),
            "rseq unregister");
  return {};
}

// Unmaps every area but the executor and [vsyscall] (which cannot be): one
// munmap for everything below the executor and one for everything above it
// (holes inside a range are no error). The task is a fork of amber with a
// hundred areas; one munmap per area paid a TLB flush each, a hypercall in
// this VM (PVM): ~5 ms per task against well under 1 ms for two ranges.
// The copy-on-write slots the fork phase built (CowRestore) are kept too.
Status unmap_everything(RemoteTask& task, const std::vector<sys::VmArea>& maps, const CowRestore& cow) {
  const uint64_t xs = task.executor_base(), xe = xs + task.executor_size();
  std::vector<std::pair<uint64_t, uint64_t>> kept = {{xs, xe}};
  for (const CowRestore::Premapped& p : cow.premapped) kept.emplace_back(p.slot, p.slot + (p.end - p.start));
  std::sort(kept.begin(), kept.end());
  uint64_t lo = UINT64_MAX, hi = 0;
  for (const sys::VmArea& a : maps) {
    if (a.path == "[vsyscall]") continue;
    lo = std::min(lo, a.start);
    hi = std::max(hi, a.end);
  }
  Batch batch;
  TRY(unregister_rseq(task, batch));
  auto unmap = [&](uint64_t s, uint64_t e) {
    if (s < e) batch.add(stop_on_error(make_call(SYS_munmap, s, e - s)), fmt::format("munmap {:x}-{:x}", s, e));
  };
  uint64_t from = lo;
  for (auto [s, e] : kept) {
    unmap(from, std::min(hi, s));
    from = std::max(from, e);
  }
  unmap(from, hi);
  TRY(batch.run(task));
  auto inside_kept = [&](const sys::VmArea& a) {
    for (auto [s, e] : kept)
      if (a.start >= s && a.end <= e) return true;
    return false;
  };
  auto left = TRY_CTX(sys::read_maps(task.tgid()), "task {}: maps after teardown", task.tgid());
  for (const sys::VmArea& a : left)
    if (a.path != "[vsyscall]" && !inside_kept(a))
      return failf("task {}: area {} is still mapped after the teardown", task.tgid(), area_label(a.start, a.end, a.path, ""));
  return {};
}

// mm fields, auxv and the executable in one PR_SET_MM_MAP. Done right after
// the teardown, before the saved areas are mapped: the kernel refuses a new
// exe_fd (EBUSY) while any area maps the task's *current* executable, and the
// image may well map that same file again (amber restoring amber, or tests).
// Single-field PR_SET_MM_* would need CAP_SYS_RESOURCE; the map form needs
// CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN only.
Status set_mm_map(RemoteTask& task, const img::Mm& mm, const ShmemFds& shmem) {
  const pid_t pid = task.tgid();
  Scratch scratch(task);
  int64_t exe_fd = -1;
  bool own_fd = false;  // opened here, closed here
  if (mm.exe_shmem_inode() != 0) {
    // A memfd the task executed: the object's fd the task holds. The
    // kernel denies writes to the new exe_file (ETXTBSY for an O_RDWR
    // open), as execve did.
    auto it = shmem.find({mm.exe_shmem_dev(), mm.exe_shmem_inode()});
    if (it == shmem.end()) return failf("task {}: no fd for its executable {}", pid, mm.exe_path());
    exe_fd = it->second;
  } else if (!mm.exe_path().empty()) {
    own_fd = true;
    std::optional<Call> open = open_call(scratch, mm.exe_path(), O_RDONLY);
    if (!open) return failf("task {}: executable path of {} bytes does not fit the scratch area", pid, mm.exe_path().size());
    TRY(scratch.flush(task));
    exe_fd = static_cast<int64_t>(TRY(task.syscall_checked(fmt::format("open executable {}", mm.exe_path()), open->nr,
                                                           open->args[0], open->args[1], open->args[2],
                                                           open->args[3])));
  }
  prctl_mm_map m{};
  m.start_code = mm.start_code();
  m.end_code = mm.end_code();
  m.start_data = mm.start_data();
  m.end_data = mm.end_data();
  m.start_brk = mm.start_brk();
  m.brk = mm.brk();
  m.start_stack = mm.start_stack();
  m.arg_start = mm.arg_start();
  m.arg_end = mm.arg_end();
  m.env_start = mm.env_start();
  m.env_end = mm.env_end();
  m.exe_fd = static_cast<uint32_t>(exe_fd);
  if (!mm.auxv().empty()) {
    uint64_t auxv = scratch.put(mm.auxv());
    if (!auxv) return failf("task {}: auxv of {} bytes does not fit the scratch area", pid, mm.auxv().size());
    m.auxv = reinterpret_cast<__u64*>(auxv);
    m.auxv_size = static_cast<uint32_t>(mm.auxv().size());
  }
  uint64_t addr = scratch.put(std::string_view(reinterpret_cast<const char*>(&m), sizeof m));
  if (!addr) return failf("task {}: prctl_mm_map does not fit the scratch area", pid);
  TRY(scratch.flush(task));
  // No stop_on_error: the fd is closed whatever prctl says.
  Batch batch;
  batch.add(make_call(SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, addr, sizeof m, 0), "prctl(PR_SET_MM_MAP)");
  if (own_fd) batch.add(make_call(SYS_close, exe_fd), "close executable");
  return batch.run(task);
}

uint64_t mmap_flags(const img::VmArea& a) {
  // MAP_DROPPABLE is a mapping type of its own, in place of MAP_PRIVATE.
  uint64_t f = ((a.flags() & img::VMA_SHARED)      ? MAP_SHARED
                : (a.flags() & img::VMA_DROPPABLE) ? MAP_DROPPABLE
                                                   : MAP_PRIVATE) |
               MAP_FIXED_NOREPLACE;
  if (a.flags() & img::VMA_ANON) f |= MAP_ANONYMOUS;
  if (a.flags() & img::VMA_GROWSDOWN) f |= MAP_GROWSDOWN;
  if (a.flags() & img::VMA_NORESERVE) f |= MAP_NORESERVE;
  return f;
}

// An area with pages to fill but without PROT_WRITE is mapped writable,
// filled, then given its saved protection, as ld.so does with RELRO and a
// program with mprotect(): the kernel then marks it (VM_ACCOUNT) as it did
// the original and keeps it apart from its read-only neighbours, so the
// rebuilt maps show the same areas. process_vm_writev needs PROT_WRITE.
bool needs_write_while_filling(const img::VmArea& a) { return a.pages_in_store() && !(a.prot() & PROT_WRITE); }

uint64_t map_prot(const img::VmArea& a) {
  return a.prot() | (needs_write_while_filling(a) ? PROT_READ | PROT_WRITE : 0);
}

// MAP_FIXED_NOREPLACE: a saved area that would land on something still
// mapped (the executor) is an error, never a silent replacement.
Call mmap_call(const img::VmArea& a, int64_t fd) {
  return make_call(SYS_mmap, a.start(), a.end() - a.start(), map_prot(a), mmap_flags(a), fd,
                   fd < 0 ? 0 : a.offset());
}

// An area the fork phase built (CowRestore) is moved to its place: mremap
// moves the page tables, so its pages stay shared with the parent's.
Status map_anonymous(RemoteTask& task, const img::Mm& mm, const CowRestore& cow) {
  Batch batch;
  for (const img::VmArea& a : mm.areas()) {
    if (!(a.flags() & img::VMA_ANON)) continue;
    const uint64_t len = a.end() - a.start();
    if (const CowRestore::Premapped* p = cow.find(a.start()))
      batch.add(make_call(SYS_mremap, p->slot, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, a.start()),
                fmt::format("mremap {:x} to {}", p->slot, area_label(a)), a.start());
    else
      batch.add(mmap_call(a, -1), "mmap " + area_label(a), a.start());
  }
  return batch.run(task);
}

// A MAP_SHARED area that may be made writable needs an fd open for writing
// (VM_MAYWRITE comes from the fd's mode); everything else is read-only, so
// that a restore cannot write a file by accident.
bool open_for_writing(const img::VmArea& a) {
  return (a.flags() & img::VMA_SHARED) && (a.flags() & img::VMA_MAYWRITE);
}

// File mappings, private and shared: each file opened in the task (its mount
// namespace, its view of the path), mapped at the saved offset, closed.
// A file mapped both ways, or by a shared area that may write, is opened
// once per mode. Rounds of at most kOpenPerRound opens whose paths fit the
// scratch area. Shared memory objects are not files of the tree: map_shmem.
Status map_files(RemoteTask& task, const img::Mm& mm) {
  using Open = std::pair<std::string, bool>;  // path, for writing
  std::vector<Open> order;
  std::map<Open, std::vector<const img::VmArea*>> by_path;
  for (const img::VmArea& a : mm.areas()) {
    if (!(a.flags() & img::VMA_FILE) ||
        (a.flags() & (img::VMA_SHMEM | img::VMA_MEMFD | img::VMA_FILE_DELETED | img::VMA_SYSVSHM)))
      continue;
    Open key{a.path(), open_for_writing(a)};
    auto [it, fresh] = by_path.try_emplace(key);
    if (fresh) order.push_back(key);
    it->second.push_back(&a);
  }
  Scratch scratch(task);
  for (size_t next = 0; next < order.size();) {
    // Open a round of files.
    scratch.clear();
    std::vector<Call> opens;
    std::vector<Open> round;
    for (; next < order.size() && round.size() < kOpenPerRound; next++) {
      std::optional<Call> open = open_call(scratch, order[next].first, order[next].second ? O_RDWR : O_RDONLY);
      if (!open) break;
      opens.push_back(*open);
      round.push_back(order[next]);
    }
    if (round.empty()) return failf("task {}: path {} does not fit the scratch area", task.tgid(), order[next].first);
    TRY(scratch.flush(task));
    TRY_CTX(task.run_batch(opens), "task {}: open mapped files", task.tgid());
    // Map what opened, then close every fd that opened (also on failure).
    Batch batch;
    const img::VmArea* not_opened = nullptr;
    long open_errno = 0;
    for (size_t i = 0; i < round.size(); i++) {
      if (opens[i].failed()) {
        if (!not_opened) not_opened = by_path[round[i]].front(), open_errno = -opens[i].result;
        continue;
      }
      for (const img::VmArea* a : by_path[round[i]])
        batch.add(mmap_call(*a, opens[i].result), "mmap " + area_label(*a), a->start());
    }
    for (size_t i = 0; i < round.size(); i++)
      if (!opens[i].failed()) batch.add(make_call(SYS_close, opens[i].result), "close " + round[i].first);
    if (not_opened)
      return sys_fail_errno(static_cast<int>(open_errno), "task {}: mmap {}", task.tgid(), area_label(*not_opened));
    TRY(batch.run(task));
  }
  return {};
}

// Shared memory objects: the controller created them and the task holds an
// fd of each (shmem.h); the same object mapped at its saved offset in every
// holder is memory shared again.
Status map_shmem(RemoteTask& task, const img::Mm& mm, const ShmemFds& shmem) {
  Batch batch;
  for (const img::VmArea& a : mm.areas()) {
    // Shared memory, and memfds and unlinked files mapped privately
    // (MAP_PRIVATE from mmap_flags).
    // (A SysV attach is a deleted file too: map_sysv's.)
    if (!(a.flags() & img::VMA_FILE) || !(a.flags() & (img::VMA_SHMEM | img::VMA_MEMFD | img::VMA_FILE_DELETED)) ||
        (a.flags() & img::VMA_SYSVSHM))
      continue;
    auto it = shmem.find({a.dev(), a.inode()});
    if (it == shmem.end()) return failf("task {}: no fd for the shared memory of {}", task.tgid(), area_label(a));
    batch.add(mmap_call(a, it->second), "mmap " + area_label(a), a.start());
  }
  return batch.run(task);
}

// SysV shm attachments (ipc_sysv.h: the controller made the segments with
// their ids in the task's ipc namespace). An area maps its segment (inode =
// shm id) from offset `offset`: the areas of one segment whose start - offset
// agree are one shmat. Each is attached whole at that base (shmat refuses an
// address where anything is mapped: never a silent replacement), writable if
// any of its areas may write (VM_MAYWRITE: not SHM_RDONLY), then the parts
// the task had unmapped are unmapped again and each area gets its
// protection. The kernel's attach count follows the areas, as it did.
Status map_sysv(RemoteTask& task, const img::Mm& mm, const SysvSizes& sizes) {
  struct Attach {
    uint64_t shmid = 0, base = 0, size = 0;
    bool write = false, exec = false;
    std::vector<const img::VmArea*> areas;
  };
  std::vector<Attach> attaches;
  for (const img::VmArea& a : mm.areas()) {
    if (!(a.flags() & img::VMA_SYSVSHM)) continue;
    const uint64_t base = a.start() - a.offset();
    if (attaches.empty() || attaches.back().shmid != a.inode() || attaches.back().base != base) {
      auto it = sizes.find(a.inode());
      if (it == sizes.end()) return failf("task {}: area {} attaches SysV shm id {}, which the image does not have",
                                          task.tgid(), area_label(a), a.inode());
      attaches.push_back({a.inode(), base, (it->second + kPage - 1) / kPage * kPage, false, false, {}});
    }
    Attach& at = attaches.back();
    at.write |= (a.flags() & img::VMA_MAYWRITE) != 0;
    at.exec |= (a.prot() & PROT_EXEC) != 0;
    at.areas.push_back(&a);
  }
  if (attaches.empty()) return {};
  Batch batch;
  for (const Attach& at : attaches)
    batch.add(make_call(SYS_shmat, at.shmid, at.base, (at.write ? 0 : SHM_RDONLY) | (at.exec ? SHM_EXEC : 0)),
              fmt::format("shmat SysV shm id {} at {:x}", at.shmid, at.base), at.base);
  TRY(batch.run(task));
  batch.clear();
  for (const Attach& at : attaches) {
    const uint64_t attached_prot = PROT_READ | (at.write ? PROT_WRITE : 0) | (at.exec ? PROT_EXEC : 0);
    uint64_t from = at.base;
    for (const img::VmArea* a : at.areas) {
      if (a->start() > from)
        batch.add(make_call(SYS_munmap, from, a->start() - from), fmt::format("munmap {:x}-{:x} of SysV shm id {}",
                                                                                from, a->start(), at.shmid));
      if (a->prot() != attached_prot)
        batch.add(make_call(SYS_mprotect, a->start(), a->end() - a->start(), a->prot()),
                  fmt::format("mprotect {} {}", area_label(*a), prot_string(a->prot())));
      from = a->end();
    }
    if (from < at.base + at.size)
      batch.add(make_call(SYS_munmap, from, at.base + at.size - from),
                fmt::format("munmap {:x}-{:x} of SysV shm id {}", from, at.base + at.size, at.shmid));
  }
  return batch.run(task);
}

// madvise flags and anonymous area names, before the pages are written (a
// THP area populates with huge pages).
Status advise_areas(RemoteTask& task, const img::Mm& mm) {
  static constexpr std::pair<uint32_t, int> kAdvice[] = {
      {img::VMA_DONTFORK, MADV_DONTFORK},   {img::VMA_DONTDUMP, MADV_DONTDUMP},
      {img::VMA_WIPEONFORK, MADV_WIPEONFORK}, {img::VMA_HUGEPAGE, MADV_HUGEPAGE},
      {img::VMA_NOHUGEPAGE, MADV_NOHUGEPAGE},
  };
  Scratch scratch(task);
  Batch batch;
  // Names go through the scratch area: a full one runs what is queued.
  auto run = [&]() -> Status {
    TRY(scratch.flush(task));
    TRY(batch.run(task));
    scratch.clear();
    batch.clear();
    return {};
  };
  for (const img::VmArea& a : mm.areas()) {
    if (!(a.flags() & (img::VMA_ANON | img::VMA_FILE))) continue;
    const uint64_t len = a.end() - a.start();
    for (auto [flag, advice] : kAdvice)
      if (a.flags() & flag)
        batch.add(make_call(SYS_madvise, a.start(), len, advice), fmt::format("madvise({}) {}", advice, area_label(a)));
    const std::string& n = a.name();
    if (!n.starts_with("[anon:") || !n.ends_with("]")) continue;
    std::string_view name = std::string_view(n).substr(6, n.size() - 7);
    uint64_t p = scratch.put(name, true);
    if (!p) {
      TRY(run());
      p = scratch.put(name, true);
    }
    batch.add(make_call(SYS_prctl, PR_SET_VMA, PR_SET_VMA_ANON_NAME, a.start(), len, p), "name " + area_label(a));
  }
  return run();
}

// A piece of a page run inside one area, and where its bytes are in the
// page store's data file.
struct Piece {
  uint64_t vaddr;
  uint64_t len;
  uint64_t file_offset;
  const img::VmArea* area;
};

std::vector<Piece> pieces_of(const img::Mm& mm, const image::PageReader& pages) {
  std::vector<Piece> out;
  int k = 0;
  for (const img::PageRun& run : pages.index().runs()) {
    uint64_t s = run.vaddr(), e = s + run.nr_pages() * kPage, off = run.file_offset();
    // validate_mm checked every byte lies in an area that holds pages.
    while (s < e) {
      while (mm.areas(k).end() <= s) k++;
      const img::VmArea& a = mm.areas(k);
      uint64_t pe = std::min(e, a.end());
      out.push_back({s, pe - s, off, &a});
      off += pe - s;
      s = pe;
    }
  }
  return out;
}

// Private anonymous memory: fresh areas read as zeros, so zero pages the
// dump left out as holes need no copy, and the kernel lets a userfaultfd
// fill it (UFFDIO_COPY takes anonymous and shmem areas only; a private file
// mapping's written pages go by process_vm_writev).
bool anon_private(const img::VmArea& a) {
  return (a.flags() & img::VMA_ANON) && !(a.flags() & img::VMA_SHARED);
}

// How anonymous memory is filled. Uffd (the default): UFFDIO_COPY allocates
// and fills each page in one pass, no zeroing, no fault (~2x the writev way
// here, KERNEL-NOTES "Memory pipelines"). Writev: the task populates its
// memory (MADV_POPULATE_WRITE, huge pages where it may), then
// process_vm_writev copies into it; also what happens when the kernel will
// not give the task a userfaultfd. AMBER_MEMORY_FILL=writev forces it
// (bench/memory.sh compares the two; e2e dump_memory runs both).
enum class FillMode { Writev, Uffd };
FillMode fill_mode() {
  const char* e = std::getenv("AMBER_MEMORY_FILL");
  return e && std::string_view(e) == "writev" ? FillMode::Writev : FillMode::Uffd;
}

bool by_uffd(const img::VmArea& a, const std::optional<sys::Userfaultfd>& uffd) { return uffd && anon_private(a); }

// The task's memory as the copy workers see it: a userfaultfd registered on
// its anonymous areas (created inside the task, owned by amber) in Uffd
// mode, if the kernel gave one.
struct Filler {
  pid_t pid;
  std::optional<sys::Userfaultfd> uffd;
  std::vector<const img::VmArea*> registered;
};

Result<std::optional<sys::Userfaultfd>> open_uffd(RemoteTask& task) {
  // UFFD_USER_MODE_ONLY: allowed without privileges (vm.unprivileged_userfaultfd
  // = 0 refuses others), and amber never lets the kernel fault on these areas.
  long rfd = TRY(task.syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
  if (rfd < 0) return std::optional<sys::Userfaultfd>{};  // seccomp, old kernel: the writev way
  UniqueFd pidfd = TRY_CTX(sys::pidfd_open(task.tgid()), "task {}", task.tgid());
  auto local = sys::pidfd_getfd(pidfd.get(), static_cast<int>(rfd));
  TRY(task.syscall_checked("close userfaultfd", SYS_close, static_cast<uint64_t>(rfd)));
  UniqueFd fd = TRY_CTX(std::move(local), "task {}: take its userfaultfd", task.tgid());
  return TRY_CTX(sys::Userfaultfd::adopt(std::move(fd)), "task {}", task.tgid());
}

// Touching never-used memory from outside is slow (page faults through GUP):
// the task populates the pages process_vm_writev fills itself, in one batch.
Status populate(RemoteTask& task, const std::vector<Piece>& pieces, const Filler& f) {
  Batch batch;
  for (size_t i = 0; i < pieces.size();) {
    const img::VmArea* a = pieces[i].area;
    uint64_t s = pieces[i].vaddr, e = s + pieces[i].len;
    for (i++; i < pieces.size() && pieces[i].vaddr == e && pieces[i].area == a; i++) e += pieces[i].len;
    if (by_uffd(*a, f.uffd)) continue;
    batch.add(stop_on_error(make_call(SYS_madvise, s, e - s, MADV_POPULATE_WRITE)),
              fmt::format("populate {:x}-{:x} of {}", s, e, area_label(*a)));
  }
  return batch.run(task);
}

Status write_memory(pid_t pid, uint64_t vaddr, const std::byte* src, uint64_t len) {
  while (len > 0) {
    iovec local{const_cast<std::byte*>(src), len}, remote{reinterpret_cast<void*>(vaddr), len};
    ssize_t n = ::process_vm_writev(pid, &local, 1, &remote, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_fail("task {}: write memory at {:x}", pid, vaddr);
    if (n == 0) return failf("task {}: write memory at {:x}: nothing written", pid, vaddr);
    src += n;
    vaddr += static_cast<uint64_t>(n);
    len -= static_cast<uint64_t>(n);
  }
  return {};
}

// A worker's reused buffer for one chunk (reading into fresh memory costs
// a page fault per 4 KiB), no larger than the task needs, faulted in by the
// kernel in one call (a user page fault costs microseconds in this VM).
class ChunkBuffer {
 public:
  explicit ChunkBuffer(size_t size) : size_(size) {
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    (void)::madvise(p, size_, MADV_POPULATE_WRITE);
    p_ = static_cast<std::byte*>(p);
  }
  ChunkBuffer(ChunkBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), size_(o.size_) {}
  ChunkBuffer& operator=(ChunkBuffer&&) = delete;
  ~ChunkBuffer() {
    if (p_) ::munmap(p_, size_);
  }
  std::byte* get() const { return p_; }

 private:
  std::byte* p_ = nullptr;
  size_t size_;
};

// One file range of the page store into the task, a chunk at a time: read
// into the worker's buffer and verified, then its pieces are copied while it
// is still in the cache. No mapping of the page store: mapping it would cost
// a page-table entry per 4 KiB of it, as much as the copy in this VM.
Status fill_range(const Filler& f, const image::PageReader& pages, const std::vector<Piece>& pieces, std::byte* buf,
                  uint64_t from, uint64_t to) {
  auto it = std::upper_bound(pieces.begin(), pieces.end(), from,
                             [](uint64_t off, const Piece& p) { return off < p.file_offset; });
  if (it != pieces.begin()) --it;
  for (uint64_t cs = from; cs < to; cs += image::kChunkSize) {
    const uint64_t ce = std::min(to, cs + image::kChunkSize);
    while (it != pieces.end() && it->file_offset + it->len <= cs) ++it;
    if (it == pieces.end() || it->file_offset >= ce) continue;  // all of it in areas built already
    TRY(pages.read_verified(cs, buf, ce - cs));
    for (; it != pieces.end() && it->file_offset < ce; ++it) {
      const uint64_t s = std::max(cs, it->file_offset), e = std::min(ce, it->file_offset + it->len);
      const uint64_t at = it->vaddr + (s - it->file_offset);
      if (!anon_private(*it->area)) {
        TRY(write_memory(f.pid, at, buf + (s - cs), e - s));
      } else {
        // Stretches of zero pages (the holes of the store) need no copy.
        const std::byte* src = buf + (s - cs);
        Status st;
        image::for_each_nonzero(src, e - s, [&](size_t off, size_t k) {
          if (!st) return;
          st = f.uffd ? f.uffd->copy(at + off, src + off, k) : write_memory(f.pid, at + off, src + off, k);
        });
        TRY_CTX(std::move(st), "task {}: {}", f.pid, area_label(*it->area));
      }
      if (it->file_offset + it->len > ce) break;  // the piece goes on in the next chunk
    }
  }
  return {};
}

// Anonymous memory below this goes the writev way (see FillMode).
constexpr uint64_t kUffdFrom = uint64_t{4} << 20;

// A file range per job: whole chunks, so each is verified by one worker.
constexpr uint64_t kFillJob = uint64_t{16} << 20;
static_assert(kFillJob % image::kChunkSize == 0);

// The page store into the task's memory by copy_workers() threads, each
// chunk verified right before its bytes are copied (a corrupt store is
// found before its bytes are used; the restore then fails and the caller
// kills the half-built task, as for any failure after the teardown).
// The pages the task shares with its parent, where the restore does not let
// it inherit them: copied from the ancestor's store that holds them, each
// chunk verified as it is read.
Status fill_parent_pages(const Filler& f, const img::Mm& mm, const image::PageReader& pages, const CowRestore& cow,
                         std::byte* buf) {
  int k = 0;
  return for_each_parent_piece(
      pages.index(), cow.ancestors,
      [&](const image::PageReader& store, uint64_t vaddr, uint64_t len, uint64_t off) -> Status {
        while (mm.areas(k).end() <= vaddr) k++;  // validate_mm: inside an area
        const img::VmArea& a = mm.areas(k);
        if (cow.find(a.start())) return {};  // built in the fork phase
        const uint64_t total = store.index().total_size();
        for (uint64_t cs = off / image::kChunkSize * image::kChunkSize; cs < off + len; cs += image::kChunkSize) {
          const uint64_t ce = std::min(total, cs + image::kChunkSize);
          TRY(store.read_verified(cs, buf, ce - cs));
          const uint64_t s = std::max(cs, off), e = std::min(ce, off + len);
          const uint64_t at = vaddr + (s - off);
          const std::byte* src = buf + (s - cs);
          Status st;
          image::for_each_nonzero(src, e - s, [&](size_t o, size_t n) {
            if (st) st = by_uffd(a, f.uffd) ? f.uffd->copy(at + o, src + o, n) : write_memory(f.pid, at + o, src + o, n);
          });
          TRY_CTX(std::move(st), "task {}: {} (its parent's pages)", f.pid, area_label(a));
        }
        return {};
      });
}

Status fill_pages(RemoteTask& task, const img::Mm& mm, const image::PageReader& pages, Progress* progress,
                  const CowRestore& cow) {
  const uint64_t total = pages.index().total_size();
  const bool from_parent = pages.index().parent_runs_size() > 0;
  if (total == 0 && !from_parent) return {};
  std::vector<Piece> pieces = pieces_of(mm, pages);
  // The areas the fork phase built are whole already.
  std::erase_if(pieces, [&](const Piece& p) { return cow.find(p.area->start()) != nullptr; });
  Filler f{task.tgid(), {}, {}};
  uint64_t anon = 0;
  for (const Piece& p : pieces)
    if (anon_private(*p.area)) anon += p.len;
  for (const img::PageRun& r : pages.index().parent_runs()) anon += r.nr_pages() * kPage;
  // A userfaultfd costs a few remote syscalls: worth it from a few MiB on.
  if (anon >= kUffdFrom && fill_mode() == FillMode::Uffd) f.uffd = TRY(open_uffd(task));
  if (f.uffd) {
    for (const img::VmArea& a : mm.areas())
      if (anon_private(a) && a.pages_in_store() && !cow.find(a.start())) {
        TRY_CTX(f.uffd->register_missing(a.start(), a.end() - a.start()), "task {}: {}", f.pid, area_label(a));
        f.registered.push_back(&a);
      }
  }
  TRY(populate(task, pieces, f));
  const size_t jobs = static_cast<size_t>((total + kFillJob - 1) / kFillJob);
  const unsigned workers = static_cast<unsigned>(std::min<size_t>(copy_workers(), jobs));
  std::vector<ChunkBuffer> bufs;
  for (unsigned w = 0; w < workers; w++) {
    bufs.emplace_back(static_cast<size_t>(std::min<uint64_t>(total, image::kChunkSize)));
    if (!bufs.back().get()) return sys_fail("task {}: mmap a copy buffer", f.pid);
  }
  TRY(parallel_jobs(jobs, workers, [&](size_t j, unsigned w) -> Status {
    const uint64_t from = j * kFillJob, to = std::min(total, from + kFillJob);
    TRY(fill_range(f, pages, pieces, bufs[w].get(), from, to));
    if (progress) progress->advance(to - from);
    return {};
  }));
  if (from_parent) {
    ChunkBuffer buf(image::kChunkSize);
    if (!buf.get()) return sys_fail("task {}: mmap a copy buffer", f.pid);
    TRY(fill_parent_pages(f, mm, pages, cow, buf.get()));
  }
  // Registered areas fault like any other again (closing the fd would do
  // it too; an explicit unregister reports a failure).
  for (const img::VmArea* a : f.registered)
    TRY_CTX(f.uffd->unregister(a->start(), a->end() - a->start()), "task {}: {}", f.pid, area_label(*a));
  return {};
}

// The saved protection of the areas that were writable while being filled.
Status protect_areas(RemoteTask& task, const img::Mm& mm) {
  Batch batch;
  for (const img::VmArea& a : mm.areas())
    if ((a.flags() & (img::VMA_ANON | img::VMA_FILE)) && needs_write_while_filling(a))
      batch.add(make_call(SYS_mprotect, a.start(), a.end() - a.start(), a.prot()),
                fmt::format("mprotect {} {}", area_label(a), prot_string(a.prot())));
  return batch.run(task);
}

// Sealed last: mseal forbids later mprotect/munmap/madvise of the area.
Status seal_areas(RemoteTask& task, const img::Mm& mm) {
  Batch batch;
  for (const img::VmArea& a : mm.areas())
    if ((a.flags() & img::VMA_SEALED) && (a.flags() & (img::VMA_ANON | img::VMA_FILE)))
      batch.add(make_call(SYS_mseal, a.start(), a.end() - a.start(), 0), "mseal " + area_label(a));
  return batch.run(task);
}

Status restore_steps(RemoteTask& task, const img::Mm& mm, image::PageReader& pages, const ShmemFds& shmem,
                     Progress* progress, const SysvSizes& sysv, const CowRestore& cow) {
  const pid_t pid = task.tgid();
  if (!task.has_executor()) return failf("task {}: restore_mm needs the executor mapped", pid);
  TRY(validate_mm(mm, pages));
  // The chunks are verified while they are copied (fill_pages).
  TRY(pages.validate_size());
  TRY(check_executor_place(task, mm));
  auto current = TRY_CTX(sys::read_maps(pid), "task {}", pid);
  TRY(check_vdso_compatible(pid, mm, current));
  // Nothing above touched the task; from here on a failure leaves it unusable.
  TRY(unmap_everything(task, current, cow));
  TRY(place_vdso(task, mm));
  TRY(set_mm_map(task, mm, shmem));
  TRY(map_anonymous(task, mm, cow));
  TRY(map_files(task, mm));
  TRY(map_shmem(task, mm, shmem));
  TRY(map_sysv(task, mm, sysv));
  TRY(advise_areas(task, mm));
  TRY(fill_pages(task, mm, pages, progress, cow));
  TRY(protect_areas(task, mm));
  TRY(seal_areas(task, mm));
  return {};
}

// mlock()ed areas locked again once filled (a lock made before the fill
// would fault every page in first, and UFFDIO_COPY wants missing pages), with
// MLOCK_ONFAULT where the area was locked on fault: VmLck counts them as it
// did. Then mlockall(MCL_FUTURE [| MCL_ONFAULT]) for the mm->def_flags of a
// task that called it: without MCL_CURRENT it only sets def_flags, so no
// area present now (the executor included) is locked by it, and nothing
// maps an area in the task afterwards. mlock works on sealed areas.
Status lock_steps(RemoteTask& task, const img::Mm& mm) {
  Batch batch;
  for (const img::VmArea& a : mm.areas())
    if ((a.flags() & img::VMA_LOCKED) && (a.flags() & (img::VMA_ANON | img::VMA_FILE)))
      batch.add(make_call(SYS_mlock2, a.start(), a.end() - a.start(),
                          (a.flags() & img::VMA_LOCKONFAULT) ? MLOCK_ONFAULT : 0),
                "mlock2 " + area_label(a));
  if (mm.mlockall_flags() != 0)
    batch.add(make_call(SYS_mlockall, mm.mlockall_flags()), fmt::format("mlockall({:#x})", mm.mlockall_flags()));
  return batch.run(task);
}

}  // namespace

Status restore_mm(RemoteTask& task, const img::Mm& mm, image::PageReader& pages, const ShmemFds& shmem,
                  Progress* progress, const SysvSizes& sysv, const CowRestore& cow) {
  return context(restore_steps(task, mm, pages, shmem, progress, sysv, cow), "restore");
}

Status restore_mm_locks(RemoteTask& task, const img::Mm& mm) { return context(lock_steps(task, mm), "restore"); }

}  // namespace amber::kinds
