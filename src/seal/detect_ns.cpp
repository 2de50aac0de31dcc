// Classes 1 and 2: a namespace of the container with an outside member, or
// pinned from outside by an nsfs fd or bind mount. An outside member of the
// container's own pid namespace (not just pid_for_children) is a task in the
// pid namespace but outside the held set: class 10 when holding by cgroup.
#include <algorithm>

#include "seal/detectors.h"

namespace amber::seal {

void add_outside(Leak& leak, Holder h) {
  if (leak.outside.size() < kMaxHolders)
    leak.outside.push_back(std::move(h));
  else
    ++leak.outside_omitted;
}

namespace {

std::string ns_id(const std::string& type, uint64_t ino) { return fmt::format("{}:[{}]", type, ino); }

// The first container task whose leader is in the namespace.
std::vector<Holder> inside_members(const ContainerView& view, uint64_t ino) {
  for (const auto& t : view.tasks)
    for (const auto& [link, i] : t.ns)
      if (i == ino) return {Holder{t.ref, link == "pid_for_children" ? "pid_for_children" : "member"}};
  if (!view.tasks.empty()) return {Holder{view.tasks.front().ref, "a thread is a member"}};
  return {};
}

class NamespaceDetector : public Detector {
 public:
  Status prepare(const ContainerView& view, ScanWants& wants) override {
    for (const auto& [ino, type] : view.ns) wants.fd_links.insert(ns_id(type, ino));
    wants.mount_namespaces = true;  // nsfs bind mounts
    return {};
  }

  Status detect(const ContainerView& view, HostIndex& host, std::vector<Leak>& leaks,
                std::vector<std::string>&) override {
    const bool by_cgroup = !view.target.cgroup.empty();
    TRY(load_outside_mounts(host));
    for (const auto& [ino, type] : view.ns) {
      if (is_initial_ns(type, ino)) continue;
      const bool init_own = view.init_ns.count(type) && view.init_ns.at(type) == ino;
      Leak member{LeakClass::Namespace, type + " namespace", ns_id(type, ino), "", inside_members(view, ino)};
      member.external = type;
      Leak pidns_member{LeakClass::CgroupPidns, "task", ns_id(type, ino), "in the pid namespace, outside the cgroup",
                        inside_members(view, ino)};
      pidns_member.remedy = fmt::format("move the task into the container's cgroup {} or end it", view.target.cgroup);
      Leak pin{LeakClass::NamespacePin, type + " namespace", ns_id(type, ino), "", inside_members(view, ino)};
      pin.external = type;

      auto it = host.ns_members.find(ino);
      if (it != host.ns_members.end()) {
        for (const NsMember& m : it->second) {
          std::string how = m.tid == m.pid ? fmt::format("member ({})", m.link)
                                           : fmt::format("thread {} is a member ({})", m.tid, m.link);
          if (type == "pid" && m.link == "pid")
            add_outside(by_cgroup ? pidns_member : member, Holder{host.ref(m.pid), how});
          else
            add_outside(member, Holder{host.ref(m.pid), how});
        }
      }
      if (!member.outside.empty()) {
        member.remedy = fmt::format(
            "the {} namespace {} is {}; declare it with --external {} or run the container with its own", type,
            ns_id(type, ino), member.outside.size() + member.outside_omitted > 20 ? "probably the host's" : "shared",
            type);
        if (!init_own) member.name = "a namespace a container task joined";
        leaks.push_back(std::move(member));
      }
      if (!pidns_member.outside.empty()) leaks.push_back(std::move(pidns_member));

      if (auto f = host.fds.find(ns_id(type, ino)); f != host.fds.end())
        for (const FdHolder& h : f->second) add_outside(pin, Holder{host.ref(h.pid), fmt::format("fd {}", h.fd)});
      for (const auto& [mntns, mounts] : host.mounts) {
        for (const auto& m : mounts) {
          if (m.fstype != "nsfs" || m.root != ns_id(type, ino)) continue;
          pid_t member_pid = host.mount_namespaces.at(mntns);
          add_outside(pin, Holder{host.ref(member_pid), fmt::format("bind mount {} at {} in mnt:[{}]", m.mnt_id,
                                                                    m.mount_point, mntns)});
        }
      }
      if (!pin.outside.empty()) {
        pin.remedy = fmt::format("close the fd or unmount the bind mount, or declare it with --external {}", type);
        leaks.push_back(std::move(pin));
      }
    }
    return {};
  }
};

}  // namespace

std::unique_ptr<Detector> namespace_detector() { return std::make_unique<NamespaceDetector>(); }

}  // namespace amber::seal
