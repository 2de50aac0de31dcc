// Unix sockets (FD_UNIX_SOCKET): unix_socket.cpp dumps and verifies them,
// unix_socket_restore.cpp makes a unit of them again (see proto UnixSocket).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "files.pb.h"
#include "kinds/files/fdtable.h"

namespace amber::kinds::files {

struct OpenContext;

bool is_unix_socket(const FdProbe& p);
Status dump_unix_socket(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
// Fails: a unix socket is only made with its unit (create_unix_unit).
Result<UniqueFd> open_unix_socket(const img::Fd& fd, const OpenContext& ctx);
Status verify_unix_socket(const FdProbe& now, const img::Fd& fd);
// Once every task is probed: the unit of every socket (the sockets tied
// together by connections, pending connections, accepts and datagram
// senders). Unsupported: a socket tied to one no task holds.
Status link_unix_sockets(std::vector<TaskFds>& tasks);
// "listening unix stream socket "/tmp/s"", for messages.
std::string unix_socket_text(const img::UnixSocket& u);
// An absolute path without "", ".", ".." below the container's own tmpfs
// (/tmp, /dev/shm): where a restore may bind.
bool unix_path_on_own_tmpfs(const std::string& name);

// The sockets of one unit (one Fd per description), made again in the
// calling process with their connections, queues, shutdown state and
// options: ofd_id -> fd above `floor`.
Result<std::vector<std::pair<uint64_t, UniqueFd>>> create_unix_unit(const std::vector<img::Fd>& fds, pid_t creator,
                                                                    int floor);

}  // namespace amber::kinds::files
