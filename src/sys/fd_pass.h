// Passing an fd over a unix socket (SCM_RIGHTS) with a few bytes of data.
#pragma once
#include <sys/types.h>

#include <cstddef>

#include "base/result.h"
#include "base/unique_fd.h"

namespace amber::sys {

// Sends `len` bytes of `data` with `fd` attached (none when `fd` < 0).
// Only system calls, no allocation: usable in a child forked from a process
// with other threads. Returns what sendmsg returns (-1 and errno).
ssize_t send_with_fd(int sock, const void* data, size_t len, int fd) noexcept;

// Receives up to `len` bytes into `data` and the fd that came with them, if
// any (close-on-exec).
struct Received {
  size_t bytes = 0;
  UniqueFd fd;
};
Result<Received> recv_with_fd(int sock, void* data, size_t len);

}  // namespace amber::sys
