#include "kinds/ns/mounts.h"

#include <sys/sysmacros.h>
#include <unistd.h>

#include <set>
#include <tuple>

#include "kinds/completeness.h"

namespace amber::kinds {
namespace {

img::Mount to_image(const sys::MountInfo& m) {
  img::Mount out;
  out.set_mount_id(static_cast<uint32_t>(m.mnt_id));
  out.set_parent_id(static_cast<uint32_t>(m.parent_id));
  out.set_dev(makedev(m.dev_major, m.dev_minor));
  out.set_root(m.root);
  out.set_mountpoint(m.mount_point);
  out.set_fstype(m.fstype);
  out.set_source(m.source);
  out.set_mount_options(m.mount_options);
  out.set_super_options(m.super_options);
  out.set_shared_group(static_cast<uint32_t>(m.shared));
  out.set_master_group(static_cast<uint32_t>(m.master));
  return out;
}

// What amber's container set-up mounts (src/container/init.cpp), by mount
// point and filesystem type.
struct StandardMount {
  const char* mountpoint;
  const char* fstype;
  bool content;  // tmpfs content belongs to the container: dumped
};
constexpr StandardMount kStandard[] = {
    {"/proc", "proc", false},    {"/dev", "tmpfs", false}, {"/dev/shm", "tmpfs", true},
    {"/dev/pts", "devpts", false}, {"/tmp", "tmpfs", true},
};

}  // namespace

bool is_own_tmpfs(std::string_view mountpoint) {
  for (const auto& s : kStandard)
    if (s.content && mountpoint == s.mountpoint) return true;
  return false;
}

Result<std::vector<ClassifiedMount>> classify_mounts(const std::vector<sys::MountInfo>& container,
                                                     const std::vector<sys::MountInfo>& host,
                                                     const std::string& rootfs) {
  using Key = std::tuple<uint32_t, uint32_t, std::string, std::string>;
  std::set<Key> host_mounts;
  for (const auto& h : host) host_mounts.insert({h.dev_major, h.dev_minor, h.root, h.mount_point});

  std::vector<ClassifiedMount> out;
  std::set<std::string> standard_seen;
  for (const auto& m : container) {
    ClassifiedMount c{to_image(m)};
    bool matched = false;
    // The host's own mounts first: the host may have a tmpfs at /dev/shm
    // too, hidden under the container's /dev.
    if (rootfs.empty() && host_mounts.count({m.dev_major, m.dev_minor, m.root, m.mount_point})) {
      c.role = MountRole::Inherited;
      c.mount.set_external_bind(true);
      matched = true;
    }
    // The standard ones are mounted last, on top: the topmost mount at a
    // standard path is amber's; anything below it there is inherited.
    for (const auto& s : kStandard) {
      if (matched) break;
      if (m.mount_point == s.mountpoint && m.fstype == s.fstype) {
        bool topmost = true;
        for (const auto& other : container)
          if (other.mount_point == m.mount_point && other.parent_id == m.mnt_id) topmost = false;
        if (topmost && !standard_seen.count(s.mountpoint)) {
          c.role = s.content ? MountRole::OwnTmpfs : MountRole::Standard;
          standard_seen.insert(s.mountpoint);
          matched = true;
        }
        break;
      }
    }
    if (!matched && !rootfs.empty() && m.mount_point == "/" && m.root == rootfs) {
      c.role = MountRole::Standard;  // the rootfs bind, pivot_root'ed into
      matched = true;
    }
    if (!matched)
      return unsupported("mount {} ({} from {}): a mount the container made itself is not supported yet",
                         m.mount_point, m.fstype, m.source);
    if (m.shared != 0)
      return unsupported("mount {}: shared propagation (peer group {}) is not supported", m.mount_point, m.shared);
    out.push_back(std::move(c));
  }
  // The restore mounts each of them again (setup_container_fs): one the
  // container unmounted would come back.
  for (const auto& s : kStandard)
    if (!standard_seen.count(s.mountpoint))
      return unsupported("mount {} ({}), made by amber's container set-up, was unmounted inside the container: the "
                         "restore would mount it again: not supported yet",
                         s.mountpoint, s.fstype);
  return out;
}

Status check_inherited_mounts(const img::Namespaces& ns, const std::vector<sys::MountInfo>& host) {
  for (const auto& m : ns.mounts()) {
    if (!m.external_bind()) continue;
    bool found = false;
    for (const auto& h : host)
      if (h.mount_point == m.mountpoint() && h.fstype == m.fstype()) found = true;
    if (!found)
      return bad_input("inherited mount {} ({}) is not on this host: cannot restore it by path", m.mountpoint(),
                       m.fstype());
  }
  return {};
}

Status verify_mounts(const std::vector<sys::MountInfo>& restored, const img::Namespaces& ns) {
  auto key = [](std::string_view mp, std::string_view fstype, std::string_view opts) {
    return fmt::format("{} {} {}", mp, fstype, opts);
  };
  std::multiset<std::string> want, have;
  for (const img::Mount& m : ns.mounts()) want.insert(key(m.mountpoint(), m.fstype(), m.mount_options()));
  for (const sys::MountInfo& m : restored) have.insert(key(m.mount_point, m.fstype, m.mount_options));
  if (want == have) return {};
  for (const std::string& w : want)
    if (have.count(w) < want.count(w))
      return failf("mount namespace: the image's mount '{}' is not in the restored mount table", w);
  for (const std::string& h : have)
    if (want.count(h) < have.count(h))
      return failf("mount namespace: the restored mount '{}' is not in the image", h);
  return {};
}

Result<std::vector<ClassifiedMount>> classify_task_mounts(pid_t init, const std::string& rootfs) {
  const auto ct = TRY(sys::read_mountinfo(init));
  for (const sys::MountInfo& m : ct)
    TRY(check_mount_optional(m.optional_fields, fmt::format("mount {} at {}", m.mnt_id, m.mount_point)));
  return classify_mounts(ct, TRY(sys::read_mountinfo(::getpid())), rootfs);
}

}  // namespace amber::kinds
