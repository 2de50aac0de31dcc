// Classes 9 and 10 about the tasks themselves: a container task traced by
// an outside tracer (it could change the task's memory and registers at
// any time, and amber cannot seize it), and a task that the cgroup counts
// in but the pid namespace does not (the other direction — a member of the
// pid namespace outside the cgroup — comes from the namespace scan).
#include "seal/detectors.h"

namespace amber::seal {
namespace {

class TaskDetector : public Detector {
 public:
  Status detect(const ContainerView& view, HostIndex& host, std::vector<Leak>& leaks,
                std::vector<std::string>& notes) override {
    for (const auto& tr : view.traced) {
      Leak l;
      l.cls = LeakClass::Tracer;
      l.kind = "task";
      l.id = fmt::format("task {}", tr.task.pid);
      l.name = tr.task.comm;
      l.inside.push_back(Holder{tr.task, "traced"});
      add_outside(l, Holder{host.ref(tr.tracer), "tracer (ptrace)"});
      l.remedy = fmt::format("detach the tracer (pid {}) first; a traced task cannot be declared external",
                             tr.tracer);
      leaks.push_back(std::move(l));
    }
    for (const auto& t : view.outside_pidns) {
      Leak l;
      l.cls = LeakClass::CgroupPidns;
      l.kind = "task";
      l.id = fmt::format("task {}", t.pid);
      l.name = "in the cgroup, outside the pid namespace";
      add_outside(l, Holder{t, fmt::format("member of cgroup {}", view.target.cgroup)});
      l.remedy = fmt::format("move it out of {} (or end it)", view.target.cgroup);
      leaks.push_back(std::move(l));
    }
    if (view.target.cgroup.empty())
      notes.push_back(fmt::format("class {} ({}) checked for the pid namespace only: {}",
                                  static_cast<int>(LeakClass::CgroupPidns), leak_class_name(LeakClass::CgroupPidns),
                                  view.target.cgroup_note));
    return {};
  }
};

}  // namespace

std::unique_ptr<Detector> task_detector() { return std::make_unique<TaskDetector>(); }

}  // namespace amber::seal
