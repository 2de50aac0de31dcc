// Undoing what a killed amber left behind (journal.h).
//
// Every amber command but `show` runs recover_dead() before its own work, so
// a dump, check or restore killed at any instant (SIGKILL included) is
// repaired by the next amber command at the latest; `amber recover [NAME]`
// runs it on demand. A journal whose owner (pid and start time) still runs
// is left alone. Sweeps are serialized by a lock file, so two commands
// starting together do not both repair the same journal.
//
// What each journal leads to:
//   dump, check (held, or image committed but the tasks not yet killed):
//     the cgroup thawed if the hold froze it; the container held again;
//     every thread found parked in amber's executor gets its journaled
//     registers and mask back; every journaled executor is unmapped; the
//     tasks are released and a process parked by us is continued; the
//     temporary image (and a committed one: a dump that did not finish never
//     leaves an image beside a running container) is removed.
//   dump whose tasks were already killed: the image is kept; the
//     container's shim, cgroup and state are cleaned up like `amber kill`.
//   restore not finished: its cgroup killed and removed, its shim killed,
//     its state directory removed.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "base/result.h"

namespace amber::recover {

// One line per journal repaired, e.g. "dump of c1 killed while it held the
// container (amber pid 123): 3 threads put back, 2 executors removed,
// cgroup thawed, temporary image removed". `only`: just journals about
// that container ("" every one). A journal that cannot be repaired is
// reported as a warning and kept for the next try.
Result<std::vector<std::string>> recover_dead(Log& log, std::string_view only = "");

}  // namespace amber::recover
