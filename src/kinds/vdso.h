// The vdso family of areas ([vvar], [vvar_vclock], [vdso]) of a task: layout,
// hash of the code, placement at restore.
//
// Linux 6.13+ maps three areas: [vvar] (4 pages), [vvar_vclock] (2 pages),
// [vdso] (2 pages); ARCH_MAP_VDSO_64 puts the whole block back at an address
// (vvar first), EEXIST while one is mapped. A restored task may be stopped
// inside the vdso or hold return addresses into it, so the restore needs the
// very same code at the very same place: a different layout or a different
// hash is refused (Exit::Unsupported). A task without any of them (it
// unmapped them) is restored without them.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "mm.pb.h"
#include "remote/remote_task.h"
#include "sys/procfs.h"

namespace amber::kinds {

struct VdsoArea {
  uint64_t start = 0, end = 0;
  std::string name;
  bool operator==(const VdsoArea&) const = default;
};

// The vdso family in address order.
std::vector<VdsoArea> vdso_areas(const img::Mm& mm);
std::vector<VdsoArea> vdso_areas(const std::vector<sys::VmArea>& maps);

// XXH3-64 of the bytes of [start, end) of the task (the [vdso] code).
Result<uint64_t> hash_vdso(pid_t pid, uint64_t start, uint64_t end);

// At dump: the task maps the whole vdso family or none of it (a program may
// unmap its vdso; ARCH_MAP_VDSO_64 can only put the whole block back).
// Exit::Unsupported for a part of it.
Status check_vdso_whole(pid_t pid, const img::Mm& mm);

// Before anything is torn down: the task's current vdso family is the saved
// one moved elsewhere (same names, sizes, relative offsets) and the [vdso]
// code hashes the same. Exit::Unsupported otherwise.
Status check_vdso_compatible(pid_t pid, const img::Mm& saved, const std::vector<sys::VmArea>& current);

// Before anything is created: the same check against amber's own vdso
// (`own`: amber's maps), which every restored task inherits from it, so an
// image of another kernel is refused up front. `vpid` names the task.
Status check_vdso_here(pid_t vpid, const img::Mm& saved, const std::vector<sys::VmArea>& own);

// After the teardown: maps the vdso block at the saved address, checks the
// result is the saved layout and code, and lets the RemoteTask find its
// `syscall` instruction in the new [vdso].
Status place_vdso(remote::RemoteTask& task, const img::Mm& saved);

}  // namespace amber::kinds
