// Restore side of the mount table (mounts.h): the image's recipes checked,
// made again in the restored init's mount namespace, and verified.
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <map>
#include <set>

#include "base/files.h"
#include "kinds/ns/mounts.h"
#include "kinds/ns/mounts_fs.h"
#include "sys/mount.h"
#include "sys/resolve.h"

namespace amber::kinds {
namespace {

bool good_path(std::string_view p, bool absolute) {
  if (absolute) {
    if (!p.starts_with('/')) return false;
    if (p == "/") return true;
    p.remove_prefix(1);
  } else if (p.empty()) {
    return true;
  }
  if (p.find('\0') != std::string_view::npos) return false;
  for (auto part : split(p, '/'))
    if (part.empty() || part == "." || part == "..") return false;
  return true;
}

// The member of peer group `g` the others join: the one whose root is the
// shortest (the dump checked it holds the others'), the first of those.
const img::Mount* group_leader(const img::Namespaces& ns, uint32_t g) {
  const img::Mount* best = nullptr;
  for (const img::Mount& m : ns.mounts())
    if (m.shared_group() == g && (!best || m.root().size() < best->root().size())) best = &m;
  return best;
}

std::string rel(const std::string& mountpoint) { return mountpoint == "/" ? "." : mountpoint.substr(1); }

std::vector<sys::MountParam> params_of(const img::Mount& m) {
  std::vector<sys::MountParam> out;
  for (const img::MountFsParam& p : m.params()) out.push_back({p.key(), p.value()});
  return out;
}

// Builds the tree: every mount made is kept by its root fd (bind sources,
// propagation after pivot_root).
class Builder {
 public:
  Builder(const img::Namespaces& ns, const MountSources& sources, const std::map<uint32_t, MountContent>& content)
      : ns_(ns), sources_(sources), content_(content) {}

  Status run() {
    // Before anything is mounted: on systemd hosts "/" is shared, and our
    // mounts would propagate to the host (and the host's into the container).
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return sys_fail("make mounts private");
    const img::Mount& r = ns_.mounts(0);
    TRY_CTX(make_root(r), "mount / ({})", r.fstype());
    for (int i = 1; i < ns_.mounts_size(); ++i) {
      const img::Mount& m = ns_.mounts(i);
      TRY_CTX(make(m), "mount {} ({})", m.mountpoint(), m.fstype());
    }
    if (r.how() == img::MOUNT_ROOT) {
      TRY_CTX(sys::set_attrs(made_.at(r.mount_id()).get(), TRY(sys::parse_mount_attrs(r.mount_options()))), "mount /");
      TRY(enter_root());
    }
    return propagation();
  }

 private:
  Status make_root(const img::Mount& r) {
    if (r.how() == img::MOUNT_INHERITED) {
      made_[r.mount_id()] = TRY(sys::open_at(AT_FDCWD, "/", O_PATH | O_DIRECTORY, sys::kExact));
      return {};
    }
    const std::string& path = sources_.rootfs.empty() ? r.host_path() : sources_.rootfs;
    UniqueFd dir = TRY_CTX(sys::open_at(AT_FDCWD, path, O_PATH | O_DIRECTORY, sys::kExact), "rootfs {}", path);
    // Not recursive: a mount below it is one of the image's, made next.
    UniqueFd tree = TRY_CTX(sys::clone_tree(dir.get(), "", /*recursive=*/false), "rootfs {}", path);
    TRY_CTX(sys::attach(tree.get(), dir.get()), "rootfs {}", path);
    made_[r.mount_id()] = std::move(tree);
    return {};
  }

  Status make(const img::Mount& m) {
    const int root = made_.at(ns_.mounts(0).mount_id()).get();
    if (m.how() == img::MOUNT_INHERITED) {
      // The copy of the host's tree has it (check_inherited_mounts); kept
      // only as a bind source, which a mount it cannot reach is not.
      if (auto fd = sys::open_at(root, rel(m.mountpoint()), O_PATH, sys::kNoLinks)) made_[m.mount_id()] = std::move(*fd);
      return {};
    }
    UniqueFd target = TRY_CTX(sys::open_at(root, rel(m.mountpoint()), O_PATH, sys::kNoLinks), "mount point");
    const uint64_t attrs = TRY(sys::parse_mount_attrs(m.mount_options()));
    UniqueFd mnt;
    switch (m.how()) {
      case img::MOUNT_NEW: {
        auto c = content_.find(m.mount_id());
        // Filled before it gets its flags (a read-only bind of a tmpfs).
        mnt = TRY(sys::fs_create(m.fstype(), m.source(), params_of(m),
                                 c == content_.end() ? attrs : attrs & ~uint64_t{MOUNT_ATTR_RDONLY}));
        TRY(sys::attach(mnt.get(), target.get()));
        if (c != content_.end()) {
          TRY_CTX(restore_fs_tree_at(*c->second.tree, c->second.data_fd, c->second.auth, mnt.get()), "content");
          TRY(sys::set_attrs(mnt.get(), attrs));
        }
        break;
      }
      case img::MOUNT_BIND: {
        auto s = made_.find(m.bind_of());
        if (s == made_.end()) return failf("its bind source {} is not reachable", m.bind_of());
        const int src = s->second.get();
        // Inside the source mount only: no symlink, no mount crossed.
        UniqueFd from = m.bind_path().empty()
                            ? TRY(sys::open_at(src, ".", O_PATH, sys::kOwnTree))
                            : TRY_CTX(sys::open_at(src, m.bind_path(), O_PATH, sys::kOwnTree), "bind source {}",
                                      m.bind_path());
        mnt = TRY(sys::clone_tree(from.get(), "", false));
        TRY(sys::set_attrs(mnt.get(), attrs));
        TRY(sys::attach(mnt.get(), target.get()));
        break;
      }
      case img::MOUNT_HOST: {
        auto given = sources_.externals.find(m.external());
        const std::string& path = given == sources_.externals.end() ? m.host_path() : given->second;
        UniqueFd from = TRY_CTX(sys::open_at(AT_FDCWD, path, O_PATH, sys::kExact), "{} (host {})", m.external(), path);
        mnt = TRY_CTX(sys::clone_tree(from.get(), "", false), "{} (host {})", m.external(), path);
        TRY(sys::set_attrs(mnt.get(), attrs));
        TRY(sys::attach(mnt.get(), target.get()));
        break;
      }
      default:
        return bad_input("no recipe");  // validate_mounts refused it before
    }
    made_[m.mount_id()] = std::move(mnt);
    return {};
  }

  // pivot_root(".", ".") stacks the old root on the new one; detaching it
  // leaves the container nothing of the host's tree.
  Status enter_root() {
    if (::fchdir(made_.at(ns_.mounts(0).mount_id()).get()) != 0) return sys_fail("chdir to the rootfs");
    if (::syscall(SYS_pivot_root, ".", ".") != 0) return sys_fail("pivot_root");
    if (::umount2(".", MNT_DETACH) != 0) return sys_fail("detach the old root");
    if (::chdir("/") != 0) return sys_fail("chdir /");
    return {};
  }

  // After pivot_root (which refuses shared mounts): each peer group's
  // leader made shared (a slave of its master's group first), the others
  // joined to it; slaves that share with no one; unbindable ones.
  Status propagation() {
    for (const img::Mount& m : ns_.mounts()) {
      if (m.shared_group()) TRY(group(m.shared_group()));
      else if (m.master_group()) TRY_CTX(slave_of(m, m.master_group()), "mount {}", m.mountpoint());
      if (m.unbindable())
        TRY_CTX(sys::set_propagation(made_.at(m.mount_id()).get(), MS_UNBINDABLE), "mount {}", m.mountpoint());
    }
    return {};
  }

  Status slave_of(const img::Mount& m, uint32_t master) {
    TRY(group(master));
    const int fd = made_.at(m.mount_id()).get();
    TRY(sys::copy_peer_group(made_.at(group_leader(ns_, master)->mount_id()).get(), fd));
    return sys::set_propagation(fd, MS_SLAVE);
  }

  Status group(uint32_t g) {
    if (!groups_.insert(g).second) return {};
    const img::Mount* leader = group_leader(ns_, g);
    const int lfd = made_.at(leader->mount_id()).get();
    if (leader->master_group()) TRY_CTX(slave_of(*leader, leader->master_group()), "mount {}", leader->mountpoint());
    TRY_CTX(sys::set_propagation(lfd, MS_SHARED), "mount {}", leader->mountpoint());
    for (const img::Mount& m : ns_.mounts())
      if (m.shared_group() == g && &m != leader)
        TRY_CTX(sys::copy_peer_group(lfd, made_.at(m.mount_id()).get()), "mount {} (peer group of {})", m.mountpoint(),
                leader->mountpoint());
    return {};
  }

  const img::Namespaces& ns_;
  const MountSources& sources_;
  const std::map<uint32_t, MountContent>& content_;
  std::map<uint32_t, UniqueFd> made_;
  std::set<uint32_t> groups_;
};

// One mount as verify_mounts compares it; its peer group and master apart.
std::string describe(std::string_view fstype, std::string_view root, std::string_view opts, std::string_view params,
                     bool unbindable) {
  return fmt::format("{} root {} ({}{}{}){}", fstype, root, opts, params.empty() ? "" : "; ", params,
                     unbindable ? " unbindable" : "");
}

std::string params_text(const img::Mount& m) {
  std::string out;
  for (const img::MountFsParam& p : m.params())
    out += fmt::format("{}{}{}{}", out.empty() ? "" : ",", p.key(), p.value().empty() ? "" : "=", p.value());
  return out;
}

// A one-to-one map of peer group ids (image -> restored): `what` names the
// kind of link in errors.
Status match_group(std::map<uint32_t, uint32_t>& fwd, std::map<uint32_t, uint32_t>& back, uint32_t want,
                   uint32_t have, std::string_view mp, std::string_view what) {
  if ((want == 0) != (have == 0))
    return failf("mount namespace: mount {}: {} {} in the image, {} restored", mp, what, want ? "set" : "none",
                 have ? "set" : "none");
  if (want == 0) return {};
  auto [f, f_new] = fwd.emplace(want, have);
  auto [b, b_new] = back.emplace(have, want);
  if (f->second != have || b->second != want)
    return failf("mount namespace: mount {}: its {} differs from the image's (groups do not match one to one)", mp,
                 what);
  return {};
}

}  // namespace

Status validate_mounts(const img::Namespaces& ns) {
  if (ns.mounts_size() == 0) return bad_input("the image has no mount table");
  std::set<uint32_t> seen;
  std::set<uint32_t> groups;
  for (int i = 0; i < ns.mounts_size(); ++i) {
    const img::Mount& m = ns.mounts(i);
    const std::string what = fmt::format("mount {} ({})", m.mountpoint(), m.fstype());
    if (m.how() == img::MOUNT_HOW_UNSET)
      return unsupported("{}: the image was written by an older amber (no mount recipes): dump the container again "
                         "with this one", what);
    if (!good_path(m.mountpoint(), true)) return bad_input("{}: bad mount point", what);
    if (seen.contains(m.mount_id())) return bad_input("{}: mount id {} listed twice", what, m.mount_id());
    TRY_CTX(sys::parse_mount_attrs(m.mount_options()), "{}", what);
    if (i == 0) {
      if (m.mountpoint() != "/" || (m.how() != img::MOUNT_ROOT && m.how() != img::MOUNT_INHERITED))
        return bad_input("{}: the first mount is not the container's root", what);
    } else if (!seen.contains(m.parent_id())) {
      return bad_input("{}: its parent {} is not an earlier mount", what, m.parent_id());
    }
    switch (m.how()) {
      case img::MOUNT_ROOT:
      case img::MOUNT_HOST:
        if (i != 0 && m.how() == img::MOUNT_ROOT) return bad_input("{}: a second root", what);
        if (!good_path(m.host_path(), true)) return bad_input("{}: bad host path '{}'", what, m.host_path());
        if (m.how() == img::MOUNT_HOST && m.external() != "mount:" + m.mountpoint())
          return bad_input("{}: external '{}' does not name it", what, m.external());
        break;
      case img::MOUNT_NEW: {
        const FsKind* kind = new_fs_kind(m.fstype());
        if (!kind) return bad_input("{}: amber makes no new {} mount", what, m.fstype());
        std::string opts;
        for (const img::MountFsParam& p : m.params())
          opts += fmt::format("{}{}{}{}", opts.empty() ? "" : ",", p.key(), p.value().empty() ? "" : "=", p.value());
        TRY_CTX(new_fs_params(*kind, opts), "{}", what);
        if (!m.content().empty() && m.fstype() != "tmpfs") return bad_input("{}: content for a {} mount", what, m.fstype());
        break;
      }
      case img::MOUNT_BIND:
        if (!seen.contains(m.bind_of())) return bad_input("{}: a bind of {}, which is no earlier mount", what, m.bind_of());
        if (!good_path(m.bind_path(), false)) return bad_input("{}: bad bind path '{}'", what, m.bind_path());
        break;
      case img::MOUNT_INHERITED:
        break;
      default:
        return bad_input("{}: unknown recipe {}", what, static_cast<int>(m.how()));
    }
    if (m.how() != img::MOUNT_NEW && (!m.content().empty() || m.params_size() != 0))
      return bad_input("{}: content or parameters for a mount that is not made new", what);
    seen.insert(m.mount_id());
    if (m.shared_group()) groups.insert(m.shared_group());
  }
  for (const img::Mount& m : ns.mounts()) {
    if (m.master_group() && !groups.contains(m.master_group()))
      return bad_input("mount {}: a slave of peer group {}, which no mount has", m.mountpoint(), m.master_group());
    if (m.shared_group()) {
      const img::Mount* l = group_leader(ns, m.shared_group());
      const std::string& lr = l->root();
      const bool holds = lr == "/" || m.root() == lr || (m.root().starts_with(lr) && m.root()[lr.size()] == '/');
      if (!holds || l->dev() != m.dev())
        return bad_input("mount {}: peer group {} of mounts of different filesystems or disjoint roots", m.mountpoint(),
                         m.shared_group());
    }
  }
  return {};
}

Status check_rootfs_mount_points(const img::Namespaces& ns, const std::string& rootfs) {
  if (ns.mounts_size() == 0 || ns.mounts(0).how() != img::MOUNT_ROOT) return {};
  UniqueFd root = TRY(sys::open_at(AT_FDCWD, rootfs, O_PATH | O_DIRECTORY, sys::kExact));
  for (const img::Mount& m : ns.mounts()) {
    if (m.parent_id() != ns.mounts(0).mount_id() || m.how() == img::MOUNT_ROOT) continue;
    // amber creates nothing in a rootfs: the mount point must be there.
    auto at = sys::open_at(root.get(), rel(m.mountpoint()), O_PATH, sys::kNoLinks);
    if (!at) {
      const int e = at.error().sys_errno;
      if (e == ENOENT) return bad_input("rootfs {}: no {} (the mount point of a {} mount)", rootfs, m.mountpoint(), m.fstype());
      if (e == ELOOP || e == EXDEV) return bad_input("rootfs {}: {} is reached through a symlink", rootfs, m.mountpoint());
      return std::unexpected(std::move(at.error()).wrap(fmt::format("rootfs {}: {}", rootfs, m.mountpoint())));
    }
  }
  return {};
}

Status check_inherited_mounts(const img::Namespaces& ns, const std::vector<sys::MountInfo>& host) {
  for (const auto& m : ns.mounts()) {
    if (m.how() != img::MOUNT_INHERITED && !m.external_bind()) continue;
    bool found = false;
    for (const auto& h : host)
      if (h.mount_point == m.mountpoint() && h.fstype == m.fstype()) found = true;
    if (!found)
      return bad_input("inherited mount {} ({}) is not on this host: cannot restore it by path", m.mountpoint(),
                       m.fstype());
  }
  return {};
}

Status build_mounts(const img::Namespaces& ns, const MountSources& sources,
                    const std::map<uint32_t, MountContent>& content) {
  return Builder(ns, sources, content).run();
}

Status verify_mounts(const std::vector<sys::MountInfo>& restored, const img::Namespaces& ns) {
  // Paired by mount point, in order at each (the stack from the bottom).
  std::map<std::string, std::vector<const sys::MountInfo*>> have;
  for (const sys::MountInfo& m : restored) have[m.mount_point].push_back(&m);
  std::map<std::string, size_t> next;
  std::map<uint32_t, uint32_t> fwd, back, mfwd, mback;
  for (const img::Mount& w : ns.mounts()) {
    const std::string& mp = w.mountpoint();
    auto& at = have[mp];
    size_t& k = next[mp];
    if (k >= at.size())
      return failf("mount namespace: the image's mount {} ({}) is not in the restored mount table", mp, w.fstype());
    const sys::MountInfo& h = *at[k++];
    // The root of a bind of a host path is where that path is on this host.
    const bool by_host = w.how() == img::MOUNT_ROOT || w.how() == img::MOUNT_HOST;
    std::string hp;
    if (w.how() == img::MOUNT_NEW) {
      const FsKind* kind = new_fs_kind(h.fstype);
      auto p = kind ? new_fs_params(*kind, h.super_options) : Result<std::vector<std::pair<std::string, std::string>>>{};
      if (p)
        for (const auto& [key, value] : *p) hp += fmt::format("{}{}{}{}", hp.empty() ? "" : ",", key, value.empty() ? "" : "=", value);
      else hp = h.super_options;
    }
    const std::string want = describe(w.fstype(), by_host ? "-" : w.root(), w.mount_options(),
                                      w.how() == img::MOUNT_NEW ? params_text(w) : "", w.unbindable());
    const std::string got = describe(h.fstype, by_host ? "-" : h.root, h.mount_options, hp, h.unbindable);
    if (want != got) return failf("mount namespace: mount {}: the image has {}, restored {}", mp, want, got);
    TRY(match_group(fwd, back, w.shared_group(), static_cast<uint32_t>(h.shared), mp, "peer group"));
    TRY(match_group(mfwd, mback, w.master_group(), static_cast<uint32_t>(h.master), mp, "master"));
  }
  for (const auto& [mp, list] : have)
    if (next[mp] < list.size())
      return failf("mount namespace: the restored mount {} ({}) is not in the image", mp, list[next[mp]]->fstype);
  // A master is a peer group too: the same one to one map.
  for (const auto& [want, got] : mfwd)
    if (fwd.contains(want) && fwd.at(want) != got)
      return failf("mount namespace: the master of peer group {} differs from the image's", want);
  return {};
}

}  // namespace amber::kinds
