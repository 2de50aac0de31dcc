// Dump side of the mount table (mounts.h): each mount of the container gets
// a recipe, the list an order the restore can follow, the tmpfs mounts
// their content.
#include <dirent.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

#include "base/files.h"
#include "kinds/completeness.h"
#include "kinds/ns/mounts.h"
#include "image/pages.h"
#include "kinds/ns/mounts_fs.h"
#include "sys/mount.h"
#include "sys/resolve.h"

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
  out.set_unbindable(m.unbindable);
  return out;
}

bool same_dev(const sys::MountInfo& a, const sys::MountInfo& b) {
  return a.dev_major == b.dev_major && a.dev_minor == b.dev_minor;
}

// `root` inside a mount whose root is `base`: the rest of the path ("" for
// the mount's root itself), nullopt when `root` is not below `base`.
std::optional<std::string> below(const std::string& root, const std::string& base) {
  if (base == "/") return root == "/" ? std::string() : root.substr(1);
  if (root == base) return std::string();
  if (root.starts_with(base) && root[base.size()] == '/') return root.substr(base.size() + 1);
  return std::nullopt;
}

std::string join(const std::string& dir, const std::string& rest) {
  if (rest.empty()) return dir;
  return dir == "/" ? "/" + rest : dir + "/" + rest;
}

// The host's path of what `m` (a mount of a filesystem the host has mounted
// too) shows: through the host mount of the same filesystem whose root
// holds `m`'s root most closely. nullopt when the host shows none.
std::optional<std::string> host_path_of(const sys::MountInfo& m, const std::vector<sys::MountInfo>& host) {
  const sys::MountInfo* best = nullptr;
  std::string rest;
  for (const sys::MountInfo& h : host) {
    if (!same_dev(h, m)) continue;
    auto r = below(m.root, h.root);
    if (r && (!best || h.root.size() > best->root.size())) best = &h, rest = *r;
  }
  if (!best) return std::nullopt;
  return join(best->mount_point, rest);
}

// The recipe of one mount.
struct Planner {
  const std::vector<sys::MountInfo>& host;
  const MountScope& scope;
  std::vector<const sys::MountInfo*> all;  // the container's mounts, by their root's length, then as listed
  std::map<int, size_t> index;             // mount id -> place in the mountinfo list
  const std::vector<sys::MountInfo>* mounts = nullptr;  // that list

  bool on_host(const sys::MountInfo& m) const {
    return std::any_of(host.begin(), host.end(), [&](const sys::MountInfo& h) { return same_dev(h, m); });
  }
  // One of the host's mounts the container's tree was copied with. A mount
  // of the same filesystem stacked on it at the same point is the
  // container's own, though it looks the same: a new sysfs in the host's
  // net namespace is the host's sysfs superblock (`amber run --net host`
  // mounts one over /sys). So the copies stacked at a point are counted
  // against the host's.
  bool inherited(const sys::MountInfo& m) const {
    auto same = [&](const sys::MountInfo& x) {
      return same_dev(x, m) && x.root == m.root && x.mount_point == m.mount_point;
    };
    const auto on_host = std::count_if(host.begin(), host.end(), same);
    long below = 0;
    for (auto it = index.find(m.parent_id); it != index.end() && below < on_host;) {
      const sys::MountInfo& parent = mounts->at(it->second);
      if (parent.mount_point != m.mount_point || !same(parent)) break;
      ++below;
      if (parent.parent_id == parent.mnt_id) break;
      it = index.find(parent.parent_id);
    }
    return below < on_host;
  }

  std::string what(const sys::MountInfo& m) const {
    return fmt::format("mount {} ({} from {}, root {})", m.mount_point, m.fstype, m.source, m.root);
  }

  Status root(const sys::MountInfo& m, img::Mount& out) const {
    if (scope.host_tree) {
      if (!inherited(m)) return unsupported("{}: the container's root is not the host's", what(m));
      out.set_how(img::MOUNT_INHERITED);
      out.set_external_bind(true);
      return {};
    }
    auto path = host_path_of(m, host);
    if (!path)
      return unsupported("{}: the container's root is on a filesystem the host does not show: cannot bind it again",
                         what(m));
    if (!scope.rootfs.empty() && *path != scope.rootfs)
      return unsupported("{}: the container's root is the host's {}, not its rootfs {}", what(m), *path, scope.rootfs);
    out.set_how(img::MOUNT_ROOT);
    out.set_host_path(*path);
    return {};
  }

  Status other(const sys::MountInfo& m, img::Mount& out) const {
    if (m.mount_point == "/") return unsupported("{}: a mount over the container's root: not supported", what(m));
    if (scope.host_tree && inherited(m)) {
      out.set_how(img::MOUNT_INHERITED);
      out.set_external_bind(true);
      return {};
    }
    // A bind of another mount of the container: of the mounts of the same
    // filesystem ordered by the length of their root (then as listed), the
    // first before this one whose root holds its root. The first of them
    // all is made (new, or from the host); no two are each other's source.
    const auto key = [&](const sys::MountInfo* x) { return std::pair{x->root.size(), index.at(x->mnt_id)}; };
    for (const sys::MountInfo* e : all) {
      if (e == &m || !same_dev(*e, m) || key(e) >= key(&m)) continue;
      auto rest = below(m.root, e->root);
      if (!rest) continue;
      // A pty or a queue exists only once a restored task made it again,
      // after the mounts: not there to bind yet (runc's /dev/console).
      if (!rest->empty() && (m.fstype == "devpts" || m.fstype == "mqueue"))
        return unsupported("{}: a bind of {} {} of {}: not supported yet", what(m), m.fstype == "devpts" ? "pty" : "queue",
                           *rest, e->mount_point);
      out.set_how(img::MOUNT_BIND);
      out.set_bind_of(static_cast<uint32_t>(e->mnt_id));
      out.set_bind_path(*rest);
      return {};
    }
    if (on_host(m)) {
      auto path = host_path_of(m, host);
      if (!scope.externals.contains(m.mount_point))
        return unsupported("{}: a bind of the host's {}: declare it with --external mount:{}", what(m),
                           path.value_or("?"), m.mount_point);
      if (!path) return unsupported("{}: the host shows no path to it", what(m));
      out.set_how(img::MOUNT_HOST);
      out.set_host_path(*path);
      out.set_external("mount:" + m.mount_point);
      return {};
    }
    if (scope.host_tree && std::any_of(host.begin(), host.end(),
                                       [&](const sys::MountInfo& h) { return h.mount_point == m.mount_point; }) &&
        !new_fs_kind(m.fstype))
      return unsupported("{}: inherited from the host, which has unmounted it since: cannot be restored by path "
                         "(a container with --rootfs has no such mounts)", what(m));
    if (m.root != "/")
      return unsupported("{}: a bind of a part of a filesystem the container does not show whole: cannot make it "
                         "again", what(m));
    const FsKind* kind = new_fs_kind(m.fstype);
    if (!kind) return unsupported("{}: amber cannot make a new {} mount", what(m), m.fstype);
    out.set_how(img::MOUNT_NEW);
    for (auto& [k, v] : TRY_CTX(new_fs_params(*kind, m.super_options), "{}", what(m))) {
      img::MountFsParam* p = out.add_params();
      p->set_key(k);
      p->set_value(v);
    }
    return {};
  }
};

// Parents before children, bind sources before their binds; otherwise in
// mountinfo order (the order the kernel made them in).
Result<std::vector<img::Mount>> in_build_order(std::vector<img::Mount> mounts) {
  std::map<uint32_t, size_t> index;
  for (size_t i = 0; i < mounts.size(); ++i) index[mounts[i].mount_id()] = i;
  std::vector<img::Mount> out;
  std::vector<bool> placed(mounts.size());
  std::set<uint32_t> done;
  while (out.size() < mounts.size()) {
    bool progress = false;
    for (size_t i = 0; i < mounts.size(); ++i) {
      if (placed[i]) continue;
      const img::Mount& m = mounts[i];
      const bool root = out.empty() && !index.contains(m.parent_id());
      if (!root && (!done.contains(m.parent_id()) || (m.how() == img::MOUNT_BIND && !done.contains(m.bind_of()))))
        continue;
      if (out.empty() && !root) continue;
      placed[i] = true;
      done.insert(m.mount_id());
      out.push_back(m);
      progress = true;
      break;  // from the start again: the earliest ready mount next
    }
    if (!progress) {
      for (size_t i = 0; i < mounts.size(); ++i)
        if (!placed[i])
          return unsupported("mount {} ({}): its parent {} is not in the container's mount table", mounts[i].mountpoint(),
                             mounts[i].fstype(), mounts[i].parent_id());
    }
  }
  return out;
}

// Peer groups and masters must be the container's own: a group shared with
// the host (or a master outside) would propagate across the dump.
Status check_propagation(const std::vector<sys::MountInfo>& container, const std::vector<sys::MountInfo>& host) {
  std::set<int> inside;
  for (const auto& m : container)
    if (m.shared) inside.insert(m.shared);
  for (const auto& m : container) {
    if (m.shared && std::any_of(host.begin(), host.end(), [&](const sys::MountInfo& h) { return h.shared == m.shared; }))
      return unsupported("mount {}: shared propagation with the host (peer group {}): not supported", m.mount_point,
                         m.shared);
    if (m.master && !inside.contains(m.master))
      return unsupported("mount {}: a slave of peer group {}, outside the container: not supported", m.mount_point,
                         m.master);
    if (m.propagate_from)
      return unsupported("mount {}: receives propagation from peer group {} outside the container: not supported",
                         m.mount_point, m.propagate_from);
  }
  // The restore makes the first member of a group shared and joins the
  // others to it (MOVE_MOUNT_SET_GROUP): its root must hold theirs.
  for (int g : inside) {
    const sys::MountInfo* first = nullptr;
    for (const auto& m : container)
      if (m.shared == g && (!first || m.root.size() < first->root.size())) first = &m;
    for (const auto& m : container)
      if (m.shared == g && !below(m.root, first->root))
        return unsupported("peer group {}: mounts {} and {} show disjoint parts of one filesystem: not supported", g,
                           first->mount_point, m.mount_point);
  }
  return {};
}

// Whether the directory `dir` (an O_PATH fd too) has no entry.
Result<bool> dir_is_empty(int dir) {
  UniqueFd d = TRY(sys::open_at(dir, ".", O_RDONLY | O_DIRECTORY, sys::kOwnTree));
  DIR* s = ::fdopendir(d.release());
  if (!s) return sys_fail("opendir");
  bool empty = true;
  while (dirent* e = ::readdir(s))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
  ::closedir(s);
  return empty;
}

// The content of the tmpfs `m` (`copy`: a detached copy of it) into `base`.img
// and `base`.bin of the image; returns the tree's path in the image.
Result<std::string> dump_content(int copy, const img::Mount& m, const std::string& base, const BoundSocketFiles& bound,
                                 image::ImageWriter& image) {
  UniqueFd data = TRY(image.create_raw(base + ".bin", img::KIND_FS_DATA));
  uint64_t off = 0;
  std::optional<image::ChunkAuth> auth = TRY(image.chunk_auth(base + ".bin"));
  std::optional<image::ChunkStream> tags;
  if (auth) tags.emplace(*auth, image::kChunkSize);
  img::FsTree tree = TRY(dump_fs_tree_at(copy, m.mountpoint(), data.get(), &off, tags ? &*tags : nullptr, &bound));
  if (tags) tree.set_chunk_tags(TRY(tags->finish()));
  tree.set_mountpoint(m.mountpoint());
  tree.set_fstype(m.fstype());
  tree.set_options(tmpfs_mount_data(m.super_options()));
  tree.set_data_file(base + ".bin");
  tree.set_data_size(off);
  TRY(image.write(base + ".img", img::KIND_FS_TREE, tree));
  return base + ".img";
}

}  // namespace

Result<std::vector<img::Mount>> plan_mounts(const std::vector<sys::MountInfo>& container,
                                            const std::vector<sys::MountInfo>& host, const MountScope& scope) {
  std::set<int> ids;
  for (const auto& m : container) ids.insert(m.mnt_id);
  const sys::MountInfo* root = nullptr;
  for (const auto& m : container) {
    if (ids.contains(m.parent_id) && m.parent_id != m.mnt_id) continue;
    if (root) return unsupported("mounts {} and {}: two roots in the container's mount table", root->mount_point,
                                 m.mount_point);
    root = &m;
  }
  if (!root || root->mount_point != "/") return unsupported("the container's mount table has no root mount at /");
  TRY(check_propagation(container, host));

  Planner p{host, scope, {}, {}, &container};
  for (size_t i = 0; i < container.size(); ++i) {
    p.index[container[i].mnt_id] = i;
    p.all.push_back(&container[i]);
  }
  std::stable_sort(p.all.begin(), p.all.end(),
                   [](const sys::MountInfo* a, const sys::MountInfo* b) { return a->root.size() < b->root.size(); });
  std::vector<img::Mount> out;
  img::Mount r = to_image(*root);
  TRY(p.root(*root, r));
  out.push_back(std::move(r));
  // Every mount refused is named, not the first one only.
  std::string refused;
  for (const auto& m : container) {
    if (&m == root) continue;
    img::Mount o = to_image(m);
    Status st = p.other(m, o);
    if (auto attrs = sys::parse_mount_attrs(m.mount_options); st && !attrs)
      st = std::unexpected(std::move(attrs.error()).wrap(fmt::format("mount {}", m.mount_point)));
    if (!st) {
      if (st.error().exit != Exit::Unsupported) return std::unexpected(std::move(st.error()));
      refused += (refused.empty() ? "" : "; ") + st.error().message;
      continue;
    }
    out.push_back(std::move(o));
  }
  if (!refused.empty()) return unsupported("{}", refused);
  return in_build_order(std::move(out));
}

Result<std::vector<img::Mount>> plan_task_mounts(pid_t init, const MountScope& scope) {
  const auto ct = TRY(sys::read_mountinfo(init));
  for (const sys::MountInfo& m : ct)
    TRY(check_mount_optional(m.optional_fields, fmt::format("mount {} at {}", m.mnt_id, m.mount_point)));
  return plan_mounts(ct, TRY(sys::read_mountinfo(::getpid())), scope);
}

Status dump_mounts(pid_t init, const MountScope& scope, const BoundSocketFiles& bound, image::ImageWriter& image,
                   Faults& faults, img::Namespaces& ns) {
  std::vector<img::Mount> mounts = TRY(plan_task_mounts(init, scope));
  UniqueFd mntns = TRY(open_fd(fmt::format("/proc/{}/ns/mnt", init), O_RDONLY | O_CLOEXEC));
  int n = 0;
  for (img::Mount& m : mounts) {
    if (m.how() == img::MOUNT_NEW && m.fstype() == "tmpfs") {
      TRY(faults.hit("dump.fs-content"));
      const std::string what = fmt::format("mount {} (tmpfs)", m.mountpoint());
      UniqueFd copy = TRY_CTX(sys::clone_mount_in_ns(mntns.get(), m.mountpoint(), static_cast<int>(m.mount_id())),
                              "{}", what);
      // A read-only tmpfs (a masked directory) cannot be filled again: it
      // must be empty, and is made new and empty.
      if (is_sb_readonly(m.super_options())) {
        if (!TRY_CTX(dir_is_empty(copy.get()), "{}", what))
          return unsupported("{}: a read-only tmpfs with content: not supported", what);
      } else {
        m.set_content(TRY(dump_content(copy.get(), m, fmt::format("fs/{}", n++), bound, image)));
      }
    }
    *ns.add_mounts() = std::move(m);
  }
  return {};
}

bool is_own_tmpfs(std::string_view mountpoint) { return mountpoint == "/tmp" || mountpoint == "/dev/shm"; }

}  // namespace amber::kinds
