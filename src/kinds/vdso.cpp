#include "kinds/vdso.h"

#include <asm/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "image/format.h"
#include "kinds/mm_internal.h"
#include "sys/ptrace.h"

namespace amber::kinds {

using mm_detail::is_vdso_name;

namespace {

std::string describe(const std::vector<VdsoArea>& v) {
  if (v.empty()) return "none";
  std::string s;
  for (const VdsoArea& a : v) s += fmt::format("{}{} {:x}-{:x}", s.empty() ? "" : ", ", a.name, a.start, a.end);
  return s;
}

const VdsoArea* find(const std::vector<VdsoArea>& v, std::string_view name) {
  for (const VdsoArea& a : v)
    if (a.name == name) return &a;
  return nullptr;
}

// Same names and sizes, each at the same offset from the first.
bool same_shape(const std::vector<VdsoArea>& a, const std::vector<VdsoArea>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (a[i].name != b[i].name || a[i].end - a[i].start != b[i].end - b[i].start) return false;
    if (a[i].start - a[0].start != b[i].start - b[0].start) return false;
  }
  return true;
}

Status check_hash(pid_t pid, const img::Mm& saved, const std::vector<VdsoArea>& now) {
  if (saved.vdso_xxh3() == 0) return {};
  const VdsoArea* v = find(now, "[vdso]");
  if (!v) return unsupported("task {}: vdso layout differs from the dumping kernel's: no [vdso] here", pid);
  uint64_t h = TRY(hash_vdso(pid, v->start, v->end));
  if (h != saved.vdso_xxh3())
    return unsupported(
        "task {}: vdso layout differs from the dumping kernel's: [vdso] code differs (xxh3 {:016x}, image {:016x})",
        pid, h, saved.vdso_xxh3());
  return {};
}

}  // namespace

std::vector<VdsoArea> vdso_areas(const img::Mm& mm) {
  std::vector<VdsoArea> out;
  for (const img::VmArea& a : mm.areas())
    if (is_vdso_name(a.name())) out.push_back({a.start(), a.end(), a.name()});
  return out;
}

std::vector<VdsoArea> vdso_areas(const std::vector<sys::VmArea>& maps) {
  std::vector<VdsoArea> out;
  for (const sys::VmArea& a : maps)
    if (is_vdso_name(a.path)) out.push_back({a.start, a.end, a.path});
  return out;
}

Result<uint64_t> hash_vdso(pid_t pid, uint64_t start, uint64_t end) {
  std::vector<std::byte> code(end - start);
  TRY_CTX(sys::read_memory(pid, start, code), "task {}: read [vdso]", pid);
  return image::xxh3(code);
}

Status check_vdso_whole(pid_t pid, const img::Mm& mm) {
  std::vector<VdsoArea> have = vdso_areas(mm);
  if (have.empty()) return {};
  auto own = TRY_CTX(sys::read_maps(::getpid()), "amber's own maps");
  std::vector<VdsoArea> whole = vdso_areas(own);
  if (!same_shape(have, whole))
    return unsupported("task {}: vdso areas {} (part of this kernel's {}, the rest unmapped): not supported yet", pid,
                       describe(have), describe(whole));
  return {};
}

Status check_vdso_compatible(pid_t pid, const img::Mm& saved, const std::vector<sys::VmArea>& current) {
  std::vector<VdsoArea> want = vdso_areas(saved), have = vdso_areas(current);
  if (want.empty()) return {};
  if (!same_shape(want, have))
    return unsupported("task {}: vdso layout differs from the dumping kernel's: image has {}, this kernel maps {}",
                       pid, describe(want), describe(have));
  return check_hash(pid, saved, have);
}

Status check_vdso_here(pid_t vpid, const img::Mm& saved, const std::vector<sys::VmArea>& own) {
  std::vector<VdsoArea> want = vdso_areas(saved), have = vdso_areas(own);
  if (want.empty()) return {};
  if (!same_shape(want, have))
    return unsupported("task {}: vdso layout differs from the dumping kernel's: image has {}, this kernel maps {}",
                       vpid, describe(want), describe(have));
  if (saved.vdso_xxh3() == 0) return {};
  const VdsoArea* v = find(have, "[vdso]");
  if (!v) return unsupported("task {}: vdso layout differs from the dumping kernel's: no [vdso] here", vpid);
  uint64_t h = TRY_CTX(hash_vdso(::getpid(), v->start, v->end), "amber's own vdso");
  if (h != saved.vdso_xxh3())
    return unsupported(
        "task {}: vdso layout differs from the dumping kernel's: [vdso] code differs (xxh3 {:016x}, image {:016x})",
        vpid, h, saved.vdso_xxh3());
  return {};
}

Status place_vdso(remote::RemoteTask& task, const img::Mm& saved) {
  const pid_t pid = task.tgid();
  std::vector<VdsoArea> want = vdso_areas(saved);
  if (want.empty()) {
    // The program had unmapped its vdso: it gets none. The teardown
    // removed the one this task had, so the remote syscalls that need no
    // executor (its final munmap) use a `syscall` of the restored code.
    task.forget_syscall_insn();
    return {};
  }
  // ARCH_MAP_VDSO_64 maps the whole block with [vvar] first; the image's
  // first area is where the block began.
  TRY(task.syscall_checked(fmt::format("arch_prctl(ARCH_MAP_VDSO_64, {:#x})", want[0].start), SYS_arch_prctl,
                           ARCH_MAP_VDSO_64, want[0].start));
  auto maps = TRY_CTX(sys::read_maps(pid), "task {}: maps after placing the vdso", pid);
  std::vector<VdsoArea> have = vdso_areas(maps);
  if (have != want)
    return unsupported("task {}: vdso layout differs from the dumping kernel's: image has {}, placed {}", pid,
                       describe(want), describe(have));
  TRY(check_hash(pid, saved, have));
  for (const VdsoArea& a : have)
    if (a.name == "[vdso]") return task.refresh_syscall_insn(a.start, a.end);
  return task.refresh_syscall_insn();
}

}  // namespace amber::kinds
