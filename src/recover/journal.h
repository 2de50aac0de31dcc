// The crash journal: what a running dump, check or restore has changed in a
// live container or on the host, written down before the change is made, so
// that the next amber command can undo it if this one is killed (SIGKILL
// included) before it undoes it itself (recover.h).
//
// One file per amber process, <state root>/.journal/PID-START.pb (PID and
// start time of the amber that owns it: a reused pid is not mistaken for
// it), a jrn::Journal rewritten atomically (temporary file + rename) at
// each save(). The owner removes it when it ends in any way but a kill: the
// destructor runs on success and on every error path, after the holds and
// temporary images it describes were undone by their own destructors.
#pragma once
#include <sys/types.h>

#include <map>
#include <string>

#include "base/result.h"
#include "journal.pb.h"
#include "remote/remote_task.h"
#include "seal/hold.h"

namespace amber::recover {

// <state root>/.journal
std::string journal_dir();

class Journal : public seal::HoldJournal {
 public:
  // Nothing is written until the first save().
  static Result<Journal> begin(jrn::Journal::Command command, std::string container);
  Journal(Journal&& o) noexcept;
  Journal& operator=(Journal&&) = delete;
  Journal(const Journal&) = delete;
  ~Journal() override;

  jrn::Journal& data() { return data_; }
  // "PID-START" of the owning amber (the journal's file name).
  std::string owner_id() const;
  // Writes the journal as data() is now. Call before making the change it
  // describes.
  Status save();
  Status set_phase(jrn::Journal::Phase phase);

  // seal::HoldJournal: the hold reports what it is about to hold, and the
  // threads as they were before any remote code ran in them.
  Status holding(const std::string& cgroup, bool will_freeze, pid_t pidns_pid) override;
  Status held(const std::map<pid_t, remote::RemoteTask>& tasks) override;
  Status mapping(pid_t tgid, uint64_t base, uint64_t size, bool executor, bool mapped) override;

 private:
  Journal() = default;
  std::string path_;
  jrn::Journal data_;
  bool saved_ = false;
};

}  // namespace amber::recover
