// Unix sockets (FD_UNIX_SOCKET): unix_socket.cpp dumps and verifies them,
// unix_socket_restore.cpp makes a unit of them again (see proto UnixSocket).
#pragma once
#include <functional>
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

// One unit made again in the calling process: its sockets (one Fd per
// description) with their connections, queues, shutdown state and options,
// and the files in flight in their queues. `fds` also holds the other
// descriptions tasks hold that are in flight in the queues, and `pipes` the
// pipes with an end in flight that tasks hold ends of: made here, for the
// holders to inherit (shared.h). `oc` opens the files that are not sockets.
// ofd_id -> fd above `floor`, for every description a task holds.
Result<std::vector<std::pair<uint64_t, UniqueFd>>> create_unix_unit(const std::vector<img::Fd>& fds,
                                                                    const std::vector<const img::Pipe*>& pipes,
                                                                    const OpenContext& oc, pid_t creator, int floor);

// What a unit's queues (and the queues of sockets in flight in them) have
// in flight that tasks may hold as well: pipe ids and ofd ids of other
// descriptions (unix_inflight.cpp). The plan makes them with the unit.
struct InFlightRefs {
  std::vector<uint64_t> pipes;
  std::vector<uint64_t> descriptions;
};
InFlightRefs in_flight_refs(const std::vector<img::Fd>& fds);

// Internal to unix_socket*.cpp and unix_inflight.cpp.
//
// One unix socket's state through `sock` (a copy amber holds of a task's
// fd, or of a socket in flight), `link` naming it in messages; `ctx` is the
// task that holds it or whose queue it is in flight in. `stack`: the
// sockets being described (a socket in flight in its own queue, or in a
// cycle of them, is described once).
Status dump_unix_state(int sock, uint64_t inode, const std::string& link, const FdDumpContext& ctx,
                       img::UnixSocket& u, std::vector<uint64_t>& stack);
// A file received (peeked) with SCM_RIGHTS from a queue of `ctx`'s task, as
// `fd` of amber: what it is, which task holds it too, or its own `own_id`
// as ofd_id. Unsupported for a kind the restore cannot make and send again.
Result<img::InFlightFd> dump_in_flight(int fd, const FdDumpContext& ctx, std::vector<uint64_t>& stack,
                                       uint64_t own_id);
// Once the ofd ids are assigned: an in-flight file a task holds gets its
// description's ofd_id; the same file in flight twice as two descriptions
// no task holds is refused.
Status link_in_flight(std::vector<TaskFds>& tasks);
// Calls `f` for every message of `u`'s queue and, depth first, of the
// sockets in flight in it described there.
void for_each_in_flight(const img::UnixSocket& u, const std::function<void(const img::InFlightFd&)>& f);
void for_each_in_flight(img::UnixSocket& u, const std::function<void(img::InFlightFd&)>& f);
// The ofd_id of a socket in flight that no task holds: its inode, top bits set.
inline uint64_t in_flight_socket_ofd(uint64_t inode) { return (uint64_t{3} << 62) | inode; }
// A socket entry in flight that carries its state (not only its inode).
inline bool described(const img::UnixSocket& u) { return u.type() != 0; }

}  // namespace amber::kinds::files
