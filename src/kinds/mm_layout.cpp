// Address-space layout checks: validating an image's areas, choosing the
// executor's place, comparing a rebuilt /proc/PID/maps with the image.
#include <sys/mman.h>

#include <algorithm>

#include "base/files.h"
#include "kinds/completeness.h"
#include "kinds/mm.h"
#include "kinds/mm_smaps.h"
#include "kinds/mm_internal.h"

namespace amber::kinds {

using namespace mm_detail;

namespace {

constexpr uint32_t kKindBits = img::VMA_ANON | img::VMA_FILE | img::VMA_VDSO | img::VMA_VSYSCALL;

bool stores_pages(const img::VmArea& a) {
  return a.pages_in_store() && (a.flags() & (img::VMA_ANON | img::VMA_FILE)) && !(a.flags() & img::VMA_SHARED);
}

Status validate_area(const img::VmArea& a, uint64_t prev_end) {
  const std::string label = area_label(a);
  if (a.flags() & img::VMA_UNSUPPORTED)
    return unsupported("area {}: {}: not supported yet", label, a.unsupported().reason());
  const bool shmem = a.flags() & img::VMA_SHMEM;
  // A SysV shm attach (ipc_sysv.h): a shared "file" area whose inode is the shm id.
  const bool sysv = a.flags() & img::VMA_SYSVSHM;
  if (sysv && ((a.flags() & (img::VMA_SHARED | img::VMA_FILE)) != (img::VMA_SHARED | img::VMA_FILE) || shmem ||
               !a.path().starts_with("/SYSV")))
    return bad_input("address space: corrupt: area {} attaches SysV shm but is not a shared file area", label);
  if (shmem && (a.flags() & (img::VMA_SHARED | img::VMA_FILE)) != (img::VMA_SHARED | img::VMA_FILE))
    return bad_input("address space: corrupt: area {} maps shared memory but is not a shared file area", label);
  // A memfd mapped privately maps its object of shmem.img (shmem.h).
  const bool memfd = a.flags() & img::VMA_MEMFD;
  if (memfd && !shmem && (a.flags() & img::VMA_SHARED))
    return bad_input("address space: corrupt: area {} maps a memfd shared but not as shared memory", label);
  // An unlinked file mapped privately maps its object of shmem.img too.
  if ((a.flags() & img::VMA_FILE_DELETED) && !shmem && !memfd && !sysv && (a.flags() & img::VMA_SHARED))
    return unsupported("area {}: mapping of a deleted file: not supported yet", label);
  if ((a.flags() & img::VMA_SHARED) && !(a.flags() & img::VMA_FILE))
    return unsupported("area {}: shared mapping of this kind: not supported yet", label);
  // The restore never writes a shared area's pages: the file's page cache,
  // or an object of shmem.img, holds them.
  if ((a.flags() & img::VMA_SHARED) && a.pages_in_store())
    return bad_input("address space: corrupt: shared area {} holds pages", label);
  if (a.start() % kPage || a.end() % kPage || a.start() >= a.end())
    return bad_input("address space: corrupt: area {} is not a page-aligned range", label);
  if (a.start() < prev_end) return bad_input("address space: corrupt: area {} overlaps or precedes the previous one", label);
  uint32_t kind = a.flags() & kKindBits;
  if (kind != img::VMA_ANON && kind != img::VMA_FILE && kind != img::VMA_VDSO && kind != img::VMA_VSYSCALL)
    return bad_input("address space: corrupt: area {} has flags {:#x}", label, a.flags());
  if (kind != img::VMA_VSYSCALL && a.end() > kUserTop)
    return bad_input("address space: corrupt: area {} lies outside user space", label);
  if (a.prot() & ~static_cast<uint32_t>(PROT_READ | PROT_WRITE | PROT_EXEC))
    return bad_input("address space: corrupt: area {} has protection {:#x}", label, a.prot());
  if (kind == img::VMA_FILE) {
    if (!a.path().starts_with("/") || a.path().find('\0') != std::string::npos)
      return bad_input("address space: corrupt: area {:x}-{:x} maps a file without an absolute path", a.start(),
                       a.end());
    if (a.offset() % kPage) return bad_input("address space: corrupt: area {} has offset {:#x}", label, a.offset());
  }
  if (a.pages_in_store() && !(kind & (img::VMA_ANON | img::VMA_FILE)))
    return bad_input("address space: corrupt: area {} cannot hold pages", label);
  if ((a.flags() & img::VMA_LOCKONFAULT) && !(a.flags() & img::VMA_LOCKED))
    return bad_input("address space: corrupt: area {} is locked on fault but not locked", label);
  // MAP_DROPPABLE: private anonymous memory only, never locked (mlock skips
  // it), and its pages are not dumped.
  if ((a.flags() & img::VMA_DROPPABLE) &&
      (kind != img::VMA_ANON || (a.flags() & (img::VMA_SHARED | img::VMA_LOCKED)) || a.pages_in_store()))
    return bad_input("address space: corrupt: droppable area {} has flags {:#x}", label, a.flags());
  return {};
}

// Every page run lies inside areas that hold pages.
Status validate_runs(const img::Mm& mm, const img::PagesIndex& index) {
  int k = 0;
  for (const img::PageRun& run : index.runs()) {
    uint64_t s = run.vaddr(), e = run.vaddr() + run.nr_pages() * kPage;
    while (s < e) {
      while (k < mm.areas_size() && mm.areas(k).end() <= s) k++;
      if (k == mm.areas_size() || mm.areas(k).start() > s || !stores_pages(mm.areas(k)))
        return bad_input("address space: corrupt: page run {:x}-{:x} lies outside the areas that hold pages",
                         run.vaddr(), e);
      s = std::min(e, mm.areas(k).end());
    }
  }
  // The parent's pages: inside private anonymous areas only.
  k = 0;
  for (const img::PageRun& run : index.parent_runs()) {
    uint64_t s = run.vaddr(), e = run.vaddr() + run.nr_pages() * kPage;
    while (s < e) {
      while (k < mm.areas_size() && mm.areas(k).end() <= s) k++;
      if (k == mm.areas_size() || mm.areas(k).start() > s || !stores_pages(mm.areas(k)) ||
          (mm.areas(k).flags() & (img::VMA_FILE | img::VMA_SHARED)))
        return bad_input("address space: corrupt: parent's pages {:x}-{:x} lie outside its private anonymous areas",
                         run.vaddr(), e);
      s = std::min(e, mm.areas(k).end());
    }
  }
  return {};
}

// One line of maps as verify_mm compares it.
struct Entry {
  uint64_t start = 0, end = 0;
  uint32_t prot = 0;
  bool shared = false, file = false;
  std::string what;  // path (with " (deleted)") or name
  uint64_t offset = 0;

  bool operator==(const Entry&) const = default;
  std::string str() const {
    return fmt::format("{:x}-{:x} {}{} {}", start, end, prot_string(prot), shared ? 's' : 'p',
                       what.empty() ? "(anonymous)" : what);
  }
};

// Areas the kernel would merge when mapped one after the other become one.
std::vector<Entry> merged(std::vector<Entry> in) {
  std::vector<Entry> out;
  for (Entry& e : in) {
    if (!out.empty()) {
      Entry& p = out.back();
      bool special = is_vdso_name(p.what) || p.what == "[vsyscall]";
      if (!special && p.end == e.start && p.prot == e.prot && p.shared == e.shared && p.file == e.file &&
          p.what == e.what && (!p.file || p.offset + (p.end - p.start) == e.offset)) {
        p.end = e.end;
        continue;
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<Entry> entries_of(const img::Mm& mm) {
  std::vector<Entry> v;
  for (const img::VmArea& a : mm.areas()) {
    Entry e;
    e.start = a.start();
    e.end = a.end();
    e.prot = a.prot();
    e.shared = a.flags() & img::VMA_SHARED;
    e.file = a.flags() & img::VMA_FILE;
    e.what = e.file ? a.path() + ((a.flags() & img::VMA_FILE_DELETED) ? " (deleted)" : "") : a.name();
    e.offset = e.file ? a.offset() : 0;
    v.push_back(std::move(e));
  }
  return merged(std::move(v));
}

std::vector<Entry> entries_of(const std::vector<sys::VmArea>& maps, uint64_t xs, uint64_t xe) {
  std::vector<Entry> v;
  for (const sys::VmArea& a : maps) {
    if (xe > xs && a.start >= xs && a.end <= xe) continue;
    Entry e;
    e.start = a.start;
    e.end = a.end;
    e.prot = (a.read ? PROT_READ : 0) | (a.write ? PROT_WRITE : 0) | (a.exec ? PROT_EXEC : 0);
    e.shared = a.shared;
    // SysV shm id 0 is inode 0 too: its "/SYSV" name says it is a file area.
    e.file = a.inode != 0 || (a.shared && a.deleted && a.path.starts_with("/SYSV"));
    e.what = a.deleted ? a.path + " (deleted)" : a.path;
    e.offset = e.file ? a.offset : 0;
    v.push_back(std::move(e));
  }
  return merged(std::move(v));
}

}  // namespace

Status validate_mm(const img::Mm& mm, const image::PageReader& pages) {
  uint64_t prev_end = 0;
  for (const img::VmArea& a : mm.areas()) {
    TRY(validate_area(a, prev_end));
    prev_end = a.end();
  }
  if (!mm.exe_path().empty() && !mm.exe_path().starts_with("/"))
    return bad_input("address space: corrupt: executable path is not absolute");
  if (mm.exe_shmem_inode() != 0 && !mm.exe_path().starts_with("/memfd:"))
    return bad_input("address space: corrupt: executable {} is a memfd object but not named so", mm.exe_path());
  if (mm.auxv().size() % 16) return bad_input("address space: corrupt: auxv of {} bytes", mm.auxv().size());
  if (mm.start_brk() > mm.brk()) return bad_input("address space: corrupt: brk below start_brk");
  const uint32_t mcl = mm.mlockall_flags();
  if (mcl != 0 && mcl != MCL_FUTURE && mcl != (MCL_FUTURE | MCL_ONFAULT))
    return bad_input("address space: corrupt: mlockall flags {:#x}", mcl);
  return validate_runs(mm, pages.index());
}

uint64_t pick_executor_addr(const img::Mm& saved, const std::vector<sys::VmArea>& current, size_t size) {
  // A margin keeps the executor from merging with a neighbour of the same
  // protection and out of a stack's guard gap (stack_guard_gap, 1 MiB).
  constexpr uint64_t kMargin = uint64_t{1} << 20;
  const uint64_t need = (static_cast<uint64_t>(size) + kPage - 1) / kPage * kPage;
  std::vector<std::pair<uint64_t, uint64_t>> used;
  for (const img::VmArea& a : saved.areas()) used.emplace_back(a.start(), a.end());
  for (const sys::VmArea& a : current) used.emplace_back(a.start, a.end);
  std::sort(used.begin(), used.end());
  auto first_fit = [&](uint64_t from) -> uint64_t {
    uint64_t cand = from;
    for (auto [s, e] : used) {
      if (e + kMargin <= cand) continue;
      if (cand + need + kMargin <= s) return cand;
      cand = std::max(cand, e + kMargin);
    }
    return cand + need <= kUserTop47 ? cand : 0;
  };
  // Above 4 GiB first: far from a non-PIE program's brk heap, which grows up
  // from its data segment; then anywhere above the low 256 MiB.
  if (uint64_t a = first_fit(uint64_t{1} << 32)) return a;
  return first_fit(uint64_t{1} << 28);
}

Status verify_mm(pid_t pid, const img::Mm& mm, uint64_t executor_base, uint64_t executor_size) {
  auto maps = TRY_CTX(sys::read_maps(pid), "task {}", pid);
  std::vector<Entry> want = entries_of(mm), have = entries_of(maps, executor_base, executor_base + executor_size);
  size_t i = 0;
  while (i < want.size() && i < have.size() && want[i] == have[i]) i++;
  if (i == want.size() && i == have.size()) return {};
  std::string w = i < want.size() ? want[i].str() : "nothing more";
  std::string h = i < have.size() ? have[i].str() : "nothing more";
  return failf("task {}: rebuilt address space differs from the image at area {}: image has {}, task has {}", pid, i,
               w, h);
}

Status verify_vmflags(pid_t pid, pid_t vpid, const img::Mm& mm) {
  auto smaps = TRY_CTX(read_smaps(pid), "task {}", vpid);
  size_t k = 0;
  for (const img::VmArea& a : mm.areas()) {
    if (a.flags() & (img::VMA_VDSO | img::VMA_VSYSCALL)) continue;  // the kernel's own (kinds/vdso)
    if (a.vm_flags().empty()) continue;  // an image of an amber before VmFlags were recorded
    while (k < smaps.size() && smaps[k].end <= a.start()) k++;
    if (k == smaps.size() || smaps[k].start > a.start())
      return failf("task {}: area {:x}-{:x} is missing after the restore", vpid, a.start(), a.end());
    std::string have = verified_vmflags(smaps[k].mnemonics);
    if (have != a.vm_flags())
      return failf("task {}: area {:x}-{:x}: VmFlags '{}' after the restore, the image has '{}'", vpid, a.start(),
                   a.end(), have, a.vm_flags());
  }
  return {};
}

}  // namespace amber::kinds
