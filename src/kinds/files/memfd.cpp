// memfds held as fds. The object itself (content, name, mode, seals) is one
// of shmem.img, dumped once with the memfds the tasks map (kinds/shmem.h):
// a memfd that is both mapped and held is one object again after restore.
// The restoring process holds an fd of every object (the controller made
// them); a description is a new open of it through /proc/self/fd, with the
// saved flags and position, like the task's own reopen would be.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kinds/files/fd_kinds.h"

namespace amber::kinds::files {

bool is_memfd(const FdProbe& p) {
  return S_ISREG(p.st.st_mode) && p.link.starts_with("/memfd:") && p.link.ends_with(" (deleted)");
}

Status dump_memfd(const FdProbe& p, const FdDumpContext&, img::Fd& out) {
  out.set_kind(img::FD_MEMFD);
  out.set_path(p.link.substr(0, p.link.size() - std::string_view(" (deleted)").size()));
  out.set_shmem_dev(p.st.st_dev);
  out.set_shmem_inode(p.st.st_ino);
  return {};
}

Result<UniqueFd> open_memfd(const img::Fd& fd, const MemfdFds* memfds) {
  auto it = memfds ? memfds->find({fd.shmem_dev(), fd.shmem_inode()}) : MemfdFds::const_iterator{};
  if (!memfds || it == memfds->end()) return failf("{}: its object was not created", fd.path());
  const int flags =
      (static_cast<int>(fd.flags()) & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC)) | O_CLOEXEC;
  int raw = ::open(fmt::format("/proc/self/fd/{}", it->second).c_str(), flags);
  if (raw < 0) return sys_fail("open {} again (flags {:#o})", fd.path(), flags);
  UniqueFd f(raw);
  if (fd.pos() != 0 && ::lseek(f.get(), fd.pos(), SEEK_SET) != fd.pos())
    return sys_fail("lseek {} to {}", fd.path(), fd.pos());
  return f;
}

}  // namespace amber::kinds::files
