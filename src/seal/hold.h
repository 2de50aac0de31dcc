// Holding a whole container still with ptrace stops (DESIGN.md "Holding the
// container").
//
// With a cgroup (v2 directory, amber's own containers; or a v1 freezer
// directory, a runtime's container on a hybrid host):
//   freeze (cgroup.freeze 1, wait for "frozen 1" in cgroup.events; v1:
//   freezer.state FROZEN, read back until it says FROZEN)
//   → list every thread of the subtree (cgroup.threads of every directory)
//   → PTRACE_SEIZE + PTRACE_INTERRUPT each
//   → thaw (a task resumed by ptrace inside a frozen cgroup does not run, so
//     no remote syscall could work under the freezer)
//   → wait for every stop, re-listing until no new thread appears.
// Without one (ptrace only, `--pid` of a foreign container): every task of
// the pid namespace of a given pid (and of namespaces nested in it), found by
// walking /proc, seized and stopped, re-listed until the set is stable — a
// task may fork or clone between listing and seizing.
//
// A task traced by someone else is not seized: the hold fails with an error
// naming it, its comm and its tracer (exit status 3: an outside tracer is a
// leak; 4 if the tracer is inside the container).
//
// Everything held is released by the destructor, on every path: registers
// and signal masks put back, detached, the cgroup's freeze state as it was
// found (a cgroup its owner had frozen is frozen again before the tasks are
// detached, so they never run).
//
// Every held task is resumable (remote_task.h "amber killed"): a SIGKILL of
// amber lets it carry on, or parks it in the executor for recovery.
//
// SIGINT/SIGTERM: the command that holds blocks them with an InterruptGuard
// (created before the Hold, destroyed after it) and the hold checks the
// guard's signalfd between steps. An interrupt then unwinds like any error:
// the Hold's destructor releases the container, and a signal that arrived
// after the last check is delivered when the guard goes, i.e. after the
// release. Only SIGKILL of amber can leave a task mid-remote-call (the
// kernel then detaches it as it is); a cgroup frozen by us at that moment
// stays frozen (`amber thaw` undoes it).
#pragma once
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "remote/remote_task.h"

namespace amber::seal {

// Blocks SIGINT, SIGTERM, SIGHUP and SIGQUIT in the calling thread and
// receives them on a signalfd instead. Create it before amber starts other
// threads (they inherit the mask): a thread that does not block them would
// take the default action and end amber mid-hold.
class InterruptGuard {
 public:
  static Result<InterruptGuard> block();
  InterruptGuard(InterruptGuard&& o) noexcept;
  InterruptGuard& operator=(InterruptGuard&&) = delete;
  InterruptGuard(const InterruptGuard&) = delete;
  ~InterruptGuard();  // restores the previous mask (a pending signal is then delivered)

  // An error "interrupted by SIGINT" (exit 1) once one of them arrived.
  Status check() const;
  // The signal check() reported, 0 if none.
  int caught() const { return caught_; }

 private:
  InterruptGuard() = default;
  UniqueFd fd_;
  sigset_t old_mask_{};
  bool active_ = false;
  mutable int caught_ = 0;
};

// The crash journal's side of a hold (src/recover/journal.h): told what is
// about to be held before the freeze, and every thread's registers and mask
// once all are stopped, before any code runs in them. A hold without one
// cannot be undone after a SIGKILL of amber beyond what resumable tasks
// give (remote_task.h "amber killed").
class HoldJournal {
 public:
  virtual ~HoldJournal() = default;
  virtual Status holding(const std::string& cgroup, bool will_freeze, pid_t pidns_pid) = 0;
  virtual Status held(const std::map<pid_t, remote::RemoteTask>& tasks) = 0;
  // A mapping of amber's (its executor, or another) made in (mapped) or
  // removed from process tgid.
  virtual Status mapping(pid_t tgid, uint64_t base, uint64_t size, bool executor, bool mapped) = 0;
};

struct HoldOptions {
  // Longest wait for the freeze, and for each round of stops.
  std::chrono::milliseconds timeout{10000};
  const InterruptGuard* guard = nullptr;  // checked between steps if set
  // A task traced from outside is recorded (traced()) and left alone
  // instead of failing the hold: the seal check reports it as a leak.
  bool record_traced = false;
  HoldJournal* journal = nullptr;
};

class Hold {
 public:
  // cgroup_dir: a non-root cgroup v2 directory (e.g.
  // /sys/fs/cgroup/unified/amber/NAME) or v1 freezer directory (e.g.
  // /sys/fs/cgroup/freezer/ID); it must not contain amber itself.
  static Result<Hold> by_cgroup(const std::string& cgroup_dir, const HoldOptions& opts = {});
  // Every task in the pid namespace of `pid` (not amber's own namespace).
  static Result<Hold> by_pidns(pid_t pid, const HoldOptions& opts = {});

  Hold(Hold&& o) noexcept;
  Hold& operator=(Hold&& o) noexcept;
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;
  ~Hold();

  // Held processes (tgids) and threads, sorted.
  std::vector<pid_t> processes() const;
  std::vector<pid_t> threads(pid_t tgid) const;
  std::vector<pid_t> all_threads() const;
  size_t size() const { return tasks_.size(); }
  // The held thread, or nullptr.
  remote::RemoteTask* task(pid_t tid);
  std::map<pid_t, remote::RemoteTask>& tasks() { return tasks_; }
  const std::string& cgroup() const { return cgroup_; }
  // When the hold began to stop the container: the freeze request (cgroup
  // mode) or the first seize (ptrace only). The container has not run
  // since, until release() or kill() (`amber dump` reports the difference).
  std::chrono::steady_clock::time_point held_since() const { return held_since_; }
  // Tasks left alone because an outside tracer has them (record_traced): tid -> tracer.
  const std::map<pid_t, pid_t>& traced() const { return traced_; }

  // Puts every task back as it was and detaches; the cgroup's freeze state
  // is left as found. Returns the first error, after trying every task.
  Status release();
  // SIGKILL to every held process while seized (no task runs again after
  // its state was read), then waits until every held thread is gone.
  Status kill();

 private:
  explicit Hold(const HoldOptions& opts) : opts_(opts) {}
  Status check_interrupt() const;
  // cgroup mode
  Status check_cgroup();
  Status freeze();
  Status freeze_v1();
  Status thaw();
  Status set_freeze(bool on);
  Result<std::vector<pid_t>> list_cgroup_threads() const;
  // pidns mode
  Result<bool> in_target_pidns(pid_t pid) const;
  Result<std::vector<pid_t>> list_pidns_threads() const;
  // both
  Result<std::vector<pid_t>> list_threads() const;
  Status seize_all(const std::vector<pid_t>& tids);
  Status seize_one(pid_t tid, const std::set<pid_t>& listed);
  Status wait_stops();
  Status run_vfork_child(pid_t parent);
  Status settle();
  // Settles every thread's rseq and tells the journal (if any).
  Status journal_held();
  void release_quietly();

  HoldOptions opts_;
  std::string cgroup_;       // cgroup mode; "" in pidns mode
  bool v1_ = false;          // cgroup_ is a v1 freezer directory (freezer.state), not a v2 cgroup
  uint64_t pidns_ino_ = 0;   // pidns mode
  bool was_frozen_ = false;  // the owner had frozen the cgroup before us
  bool frozen_ = false;      // cgroup.freeze as we last wrote it
  bool freeze_touched_ = false;
  std::chrono::steady_clock::time_point held_since_{};
  std::map<pid_t, remote::RemoteTask> tasks_;  // by tid
  std::set<pid_t> ignored_;                    // zombies: listed, never seizable
  std::map<pid_t, pid_t> traced_;              // record_traced: tid -> outside tracer
};

}  // namespace amber::seal
