// userfaultfd as the restore uses it: memory filled from outside the task,
// page tables and all, in one ioctl per batch (UFFDIO_COPY), instead of the
// task populating its pages and amber then writing them (two passes over
// every page). Thin wrappers returning Result; no policy.
//
// The fd acts on the address space that created it (ctx->mm), whoever holds
// it: the restore creates it inside the task by a remote syscall and takes
// it over with pidfd_getfd; every ioctl below then works on the task's
// memory from amber's threads.
#pragma once
#include <sys/types.h>

#include <cstdint>

#include "base/result.h"
#include "base/unique_fd.h"

namespace amber::sys {

class Userfaultfd {
 public:
  // Takes over an fd created by userfaultfd(2) and does the UFFDIO_API
  // handshake (no features: missing-page registration is all it needs).
  static Result<Userfaultfd> adopt(UniqueFd fd);

  // MISSING-mode registration of [start, start+len) (whole areas that are
  // private anonymous or shmem: the kernel refuses other kinds).
  Status register_missing(uint64_t start, uint64_t len) const;
  Status unregister(uint64_t start, uint64_t len) const;
  // Copies [src, src+len) of amber's memory into the missing pages at dst,
  // resuming after a partial copy; nobody waits on these pages (DONTWAKE).
  // EEXIST: a page of the range is already present.
  Status copy(uint64_t dst, const void* src, uint64_t len) const;

  int fd() const { return fd_.get(); }

 private:
  explicit Userfaultfd(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace amber::sys
