// memfds held as fds. The object itself (content, name, mode, seals) is one
// of shmem.img, dumped once with the memfds the tasks map (kinds/shmem.h):
// a memfd that is both mapped and held is one object again after restore.
// The restoring process holds an fd of every object (the controller made
// them); a description is a new open of it through /proc/self/fd, with the
// saved flags and position, like the task's own reopen would be.
//
// The one exception: the description memfd_create returned. The kernel
// makes it without get_write_access() (alloc_file_pseudo), so although it
// is O_RDWR it does not count in i_writecount, and execveat(fd, "",
// AT_EMPTY_PATH) of the memfd works; an O_RDWR reopen through /proc counts
// and makes every execve of it fail with ETXTBSY (measured here). /proc
// cannot tell the two apart: the first O_RDWR description of each memfd
// (process tree order, then fd order) is taken to be the original, and is
// restored as the object's own description, the controller's memfd_create.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

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

void mark_memfd_originals(std::vector<TaskFds>& tasks) {
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> original;  // object -> ofd_id
  for (TaskFds& t : tasks)
    for (const img::Fd& f : t.files.fds())
      if (f.kind() == img::FD_MEMFD && (f.flags() & O_ACCMODE) == O_RDWR && f.ofd_id() != 0)
        original.emplace(std::pair{f.shmem_dev(), f.shmem_inode()}, f.ofd_id());
  for (TaskFds& t : tasks)
    for (img::Fd& f : *t.files.mutable_fds())
      if (f.kind() == img::FD_MEMFD) {
        auto it = original.find({f.shmem_dev(), f.shmem_inode()});
        f.set_memfd_original(it != original.end() && it->second == f.ofd_id());
      }
}

Result<UniqueFd> open_memfd(const img::Fd& fd, const MemfdFds* memfds) {
  auto it = memfds ? memfds->find({fd.shmem_dev(), fd.shmem_inode()}) : MemfdFds::const_iterator{};
  if (!memfds || it == memfds->end()) return failf("{}: its object was not created", fd.path());
  const int flags =
      (static_cast<int>(fd.flags()) & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC)) | O_CLOEXEC;
  UniqueFd f;
  if (fd.memfd_original()) {
    // The object's own description (memfd_create's, O_RDWR): the
    // fd-table code installs it for this ofd_id only.
    if ((flags & O_ACCMODE) != O_RDWR)
      return bad_input("{}: an original memfd description that is not O_RDWR", fd.path());
    f = UniqueFd(::fcntl(it->second, F_DUPFD_CLOEXEC, 0));
    if (!f) return sys_fail("dup memfd {}", fd.path());
    if (::fcntl(f.get(), F_SETFL, flags) != 0) return sys_fail("F_SETFL {:#o} on {}", flags, fd.path());
  } else {
    f = UniqueFd(::open(fmt::format("/proc/self/fd/{}", it->second).c_str(), flags));
    if (!f) return sys_fail("open {} again (flags {:#o})", fd.path(), flags);
  }
  if (fd.pos() != 0 && ::lseek(f.get(), fd.pos(), SEEK_SET) != fd.pos())
    return sys_fail("lseek {} to {}", fd.path(), fd.pos());
  return f;
}

}  // namespace amber::kinds::files
