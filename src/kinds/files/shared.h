// Open file descriptions shared between processes (fork, dup, SCM_RIGHTS):
// after restore they must be one description again, with one position.
//
// How: by fork inheritance, the way they came to be shared. The restored
// processes are forked by each other (kinds/tree.h), so the deepest process
// that created (directly or through helpers) every holder of a description
// opens it in the fork phase, before it forks anything, above every fd
// number of the image; its children inherit it down to the holders, which
// install it at their fd numbers (open_fds_in_child with `inherited`); every
// other process on the way closes it. A pipe with ends in several processes
// is one unit: created whole (pipe2, size, data) by the common creator of
// all holders of any of its ends. So is a pty pair, even when one process
// holds it all: both ends are made together (kinds/files/tty.cpp).
//
// Why not SCM_RIGHTS over a unix socket between the restoring processes:
// that needs an order (who opens, who waits for whom) across processes that
// are all forking at the same time, and a second channel to go wrong;
// inheritance needs no synchronisation at all, and cannot deadlock.
#pragma once
#include <sys/types.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "files.pb.h"
#include "kinds/files/fdtable.h"

namespace amber::kinds {

struct SharedFdsPlan {
  // What one process opens for its descendants.
  struct Unit {
    uint64_t pipe_id = 0;      // a pipe with all its shared descriptions; 0: one description
    bool pty = false;          // a pty pair, master and slaves (always a unit, even with one holder)
    bool unix_sockets = false; // unix sockets tied together (UnixSocket.unit; always a unit)
    // A unix unit: the pipes with an end in flight in its queues that tasks
    // hold ends of, made with it (`fds` has their tasks' ends, and the other
    // descriptions tasks hold that are in flight in its queues).
    std::vector<uint64_t> in_flight_pipes;
    // A /dev/tty description: opened once the creator has its controlling
    // terminal (a session leader takes it after its setsid).
    bool after_ctty = false;
    std::vector<img::Fd> fds;  // one per description, path as seen from the container's root
  };
  std::map<pid_t, std::vector<Unit>> by_creator;
  std::map<uint64_t, img::Pipe> pipes;  // every pipe of the image, by id
  std::map<uint64_t, img::UnlinkedFile> unlinked;  // every unlinked file's content, by ofd_id
  uint64_t log_original = 0;            // the log description that gets amber's own open
  uint64_t console_original = 0;        // the console description that gets the new console's slave itself
  int top = -1;                         // the highest fd number of any task
};

// One task's fd table for the plan.
struct TaskFilesRef {
  const img::Files* files = nullptr;
  std::string root;  // the task's root in the container ("/" if the container's)
};

// `common_creator`: the deepest process that creates every one of the
// given pids (kinds::TreePlan::common_creator). BadInput for an image whose
// fds disagree (a pipe listed twice or never, one description of two kinds).
Result<SharedFdsPlan> plan_shared_fds(const std::map<pid_t, TaskFilesRef>& tasks,
                                      const std::function<pid_t(const std::vector<pid_t>&)>& common_creator);

// In `creator`, in the fork phase before it forks: opens every unit it must
// open into `inherited` (ofd_id -> fd, above plan.top). The fds are left
// open on purpose, unowned: they must survive into the children, and every
// process closes the ones it does not hold when it builds its fd table.
// `memfds`: the shared memory objects' fds in this process (fdtable.h).
// `console_fd`: the new console's slave (-1: none). `after_ctty`: only the
// units that need the controlling terminal (Unit.after_ctty), else the others.
Status create_shared_fds(const SharedFdsPlan& plan, pid_t creator, int log_fd, const MemfdFds* memfds,
                         std::map<uint64_t, int>& inherited, int console_fd = -1, bool after_ctty = false);

}  // namespace amber::kinds
