// The seal check (DESIGN.md "The principle"): proves that nothing a held
// container uses is used by a task outside it. `amber check` runs it on its
// own; `amber dump` runs it on the container it holds and refuses (exit 3)
// when it finds a leak no --external accepts, then re-checks the cheap
// classes right before it kills or releases the tasks.
#pragma once
#include <string>
#include <vector>

#include "base/result.h"
#include "container/state.h"
#include "seal/hold.h"
#include "seal/leak.h"
#include "seal/scan.h"

namespace amber::seal {

struct Report {
  Target target;
  size_t processes = 0, threads = 0;
  size_t host_processes = 0;  // outside processes scanned
  std::vector<Leak> leaks;
  std::vector<std::string> notes;
  // Sealed, but objects amber cannot dump yet (dump/blockers.h; filled by
  // `amber check`): the dump would refuse with exit 4.
  std::vector<std::string> unsupported;
  double elapsed_ms = 0;
  size_t refused() const;  // leaks no --external accepts
  bool sealed() const { return refused() == 0; }
};

// The target of an amber container: held by its cgroup, its shim excluded.
Target target_for_container(const container::ContainerState& st);
// The target of `--pid PID`: PID must be the init of a pid namespace other
// than amber's. Its cgroup is used only if it is not a root cgroup and its
// members are exactly the namespace's tasks (DESIGN.md); otherwise ptrace
// alone. The init's parent outside the namespace (unshare, a runtime's
// shim) is treated as the container's shim, like amber's own.
Result<Target> target_for_pid(pid_t pid);
// The same, held by `freeze_cgroup` (a v1 freezer or v2 directory its runtime
// names, CRIU's freeze_cgroup option): it must hold exactly the tasks of the
// pid namespace ("" : as target_for_pid).
Result<Target> target_for_pid(pid_t pid, const std::string& freeze_cgroup);

// Holds the target (ptrace stops; traced tasks recorded, not refused).
// With a journal, what the hold changes is recorded first (hold.h).
Result<Hold> hold_target(const Target& target, const InterruptGuard* guard, HoldJournal* journal = nullptr);

// Every detector, on a held container.
Result<Report> check_held(Hold& hold, const Target& target, const std::vector<External>& externals);
// Only the cheap classes (namespace members, cgroup/pid namespace): what an
// outside task can change with one setns while the container is held.
Result<Report> recheck_cheap(Hold& hold, const Target& target, const std::vector<External>& externals);

// Exit 3 with the report's text as the message (the dump's refusal).
Error not_sealed(const Report& r);

}  // namespace amber::seal
