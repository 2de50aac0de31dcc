// Class 8: a mount of the container in the same peer group as a mount of an
// outside mount namespace ("shared:N" on both sides), or a slave of an
// outside peer group ("master:N"): a mount or unmount on the other side
// propagates into the container while it is dumped. Peer group ids are
// global, so comparing the optional fields of mountinfo is exact.
#include <map>
#include <set>

#include "seal/detectors.h"

namespace amber::seal {
namespace {

class MountDetector : public Detector {
 public:
  Status prepare(const ContainerView&, ScanWants& wants) override {
    wants.mount_namespaces = true;
    return {};
  }

  Status detect(const ContainerView& view, HostIndex& host, std::vector<Leak>& leaks,
                std::vector<std::string>&) override {
    TRY(load_outside_mounts(host));
    // Outside peer groups: id -> (mnt ns, mount).
    std::map<int, std::vector<std::pair<uint64_t, const sys::MountInfo*>>> outside;
    for (const auto& [ns, mounts] : host.mounts)
      for (const auto& m : mounts)
        if (m.shared) outside[m.shared].push_back({ns, &m});
    if (outside.empty()) return {};

    std::set<uint64_t> seen_ns;
    for (const auto& t : view.tasks) {
      if (!t.ns.count("mnt") || !seen_ns.insert(t.ns.at("mnt")).second) continue;
      auto mounts = sys::read_mountinfo(t.ref.pid);
      if (!mounts) return std::unexpected(std::move(mounts.error()).wrap(fmt::format("mounts of container task {}", t.ref.vpid)));
      for (const auto& m : *mounts) {
        for (int group : {m.shared, m.master}) {
          if (!group || !outside.count(group)) continue;
          Leak l;
          l.cls = LeakClass::MountPropagation;
          l.kind = "mount";
          l.id = fmt::format("mount {} ({} {})", m.mnt_id, group == m.shared ? "shared" : "master", group);
          l.name = m.mount_point;
          l.inside.push_back(Holder{t.ref, fmt::format("mount {} in mnt:[{}]", m.mnt_id, t.ns.at("mnt"))});
          for (const auto& [ns, om] : outside.at(group))
            add_outside(l, Holder{host.ref(host.mount_namespaces.at(ns)),
                                  fmt::format("mount {} at {} in mnt:[{}], peer group {}", om->mnt_id,
                                              om->mount_point, ns, group)});
          l.external = "mount:" + m.mount_point;
          l.remedy = fmt::format("make it private in the container (mount --make-rprivate {}), or declare it with "
                                 "--external {}",
                                 m.mount_point, l.external);
          leaks.push_back(std::move(l));
          break;
        }
      }
    }
    return {};
  }
};

}  // namespace

std::unique_ptr<Detector> mount_detector() { return std::make_unique<MountDetector>(); }

}  // namespace amber::seal
