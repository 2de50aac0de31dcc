#include "recover/journal.h"

#include <unistd.h>

#include <cstring>

#include "base/files.h"
#include "container/paths.h"
#include "container/proc_ref.h"

namespace amber::recover {

std::string journal_dir() { return container::state_root() + "/.journal"; }

Result<Journal> Journal::begin(jrn::Journal::Command command, std::string container) {
  container::ProcRef self = TRY_CTX(container::proc_ref(::getpid()), "journal");
  Journal j;
  j.path_ = fmt::format("{}/{}-{}.pb", journal_dir(), self.pid, self.start_time);
  j.data_.set_command(command);
  j.data_.set_container(std::move(container));
  return j;
}

Journal::Journal(Journal&& o) noexcept : path_(std::move(o.path_)), data_(std::move(o.data_)), saved_(o.saved_) {
  o.saved_ = false;
  o.path_.clear();
}

Journal::~Journal() {
  if (saved_) ::unlink(path_.c_str());
}

std::string Journal::owner_id() const {
  std::string base = path_.substr(path_.rfind('/') + 1);
  return base.substr(0, base.size() - 3);  // without ".pb"
}

Status Journal::save() {
  if (!saved_) TRY_CTX(make_dirs(journal_dir(), 0700), "journal");
  std::string bytes;
  if (!data_.SerializeToString(&bytes)) return failf("journal: serialize");
  TRY_CTX(write_file_atomic(path_, bytes, 0600), "journal");
  saved_ = true;
  return {};
}

Status Journal::set_phase(jrn::Journal::Phase phase) {
  data_.set_phase(phase);
  return save();
}

Status Journal::holding(const std::string& cgroup, bool will_freeze, pid_t pidns_pid) {
  if (data_.phase() == jrn::Journal::PHASE_UNSPECIFIED) data_.set_phase(jrn::Journal::HOLDING);
  data_.set_cgroup(cgroup);
  data_.set_froze_cgroup(will_freeze);
  data_.set_pidns_pid(pidns_pid);
  return save();
}

Status Journal::held(const std::map<pid_t, remote::RemoteTask>& tasks) {
  std::map<pid_t, uint64_t> start_of;  // tgid -> start time
  data_.clear_threads();
  for (const auto& [tid, t] : tasks) {
    auto [it, fresh] = start_of.try_emplace(t.tgid(), 0);
    if (fresh) it->second = TRY_CTX(container::proc_ref(t.tgid()), "journal: task {}", t.tgid()).start_time;
    jrn::HeldThread* h = data_.add_threads();
    h->set_tid(tid);
    h->set_tgid(t.tgid());
    h->set_tgid_start_time(it->second);
    const user_regs_struct& r = t.saved_regs();
    h->set_regs(std::string(reinterpret_cast<const char*>(&r), sizeof r));
    h->set_signal_mask(t.saved_sigmask());
    h->set_group_stopped(t.group_stopped());
  }
  return save();
}

Status Journal::mapping(pid_t tgid, uint64_t base, uint64_t size, bool executor, bool mapped) {
  auto* list = data_.mutable_mappings();
  if (mapped && base != 0) {
    // The address of a pending one (recorded before its mmap) is known now.
    for (jrn::Mapping& e : *list)
      if (e.tgid() == tgid && e.base() == 0 && e.executor() == executor && e.size() == size) {
        e.set_base(base);
        return save();
      }
  }
  if (mapped) {
    jrn::Mapping* e = list->Add();
    e->set_tgid(tgid);
    e->set_base(base);
    e->set_size(size);
    e->set_executor(executor);
  } else {
    for (int i = 0; i < list->size(); ++i)
      if (list->Get(i).tgid() == tgid && list->Get(i).base() == base) {
        list->DeleteSubrange(i, 1);
        break;
      }
  }
  return save();
}

}  // namespace amber::recover
