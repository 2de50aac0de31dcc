#include "kinds/ns/fs_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "base/files.h"
#include "base/unique_fd.h"
#include "kinds/files/fd_kinds.h"
#include "sys/resolve.h"
#include "image/pages.h"

namespace amber::kinds {
namespace {

constexpr size_t kCopyBuf = 1 << 20;

// The device nodes a container's /dev holds that give nothing of the host's
// away: the harmless memory devices, and /dev/tty (5:0), which opens the
// caller's own controlling terminal.
bool node_allowed(dev_t rdev) { return files::is_harmless_chardev(rdev) || rdev == makedev(5, 0); }

int64_t ns_of(const timespec& t) { return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec; }
timespec ts_of(int64_t ns) { return timespec{ns / 1000000000, ns % 1000000000}; }

struct Walker {
  int data_fd;
  uint64_t* offset;
  img::FsTree* tree;
  image::ChunkStream* tags;
  std::map<std::pair<dev_t, ino_t>, std::string> inodes;  // hard links: first path seen
  const BoundSocketFiles* bound = nullptr;
  // Allocated at the first regular file and never zeroed: a container's
  // /tmp and /dev/shm are mostly empty, and zeroing 1 MiB per walk cost
  // 256 page faults (~2 ms here, where a fault is a hypervisor exit).
  std::unique_ptr<char[]> buf;

  Status copy_file(int fd, const std::string& rel, img::FsEntry& e) {
    if (!buf) buf = std::make_unique_for_overwrite<char[]>(kCopyBuf);
    XXH3_state_t* st = XXH3_createState();
    XXH3_64bits_reset(st);
    uint64_t total = 0;
    for (;;) {
      ssize_t n = ::read(fd, buf.get(), kCopyBuf);
      if (n < 0) {
        if (errno == EINTR) continue;
        XXH3_freeState(st);
        return sys_fail("read {}", rel);
      }
      if (n == 0) break;
      XXH3_64bits_update(st, buf.get(), static_cast<size_t>(n));
      // The data file is written front to back: its chunks are tagged as
      // the bytes go by.
      if (tags) {
        if (auto r = tags->update(std::as_bytes(std::span(buf.get(), static_cast<size_t>(n)))); !r) {
          XXH3_freeState(st);
          return context(std::move(r), rel);
        }
      }
      if (::pwrite(data_fd, buf.get(), static_cast<size_t>(n), static_cast<off_t>(*offset + total)) != n) {
        XXH3_freeState(st);
        return sys_fail("write data of {}", rel);
      }
      total += static_cast<uint64_t>(n);
    }
    e.set_data_offset(*offset);
    e.set_size(total);
    e.set_xxh3(XXH3_64bits_digest(st));
    XXH3_freeState(st);
    *offset += total;
    return {};
  }

  // `dirfd` is the open directory holding `name`; `rel` the entry's path.
  Status visit(int dirfd, const char* name, const std::string& rel) {
    struct stat st {};
    if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return sys_fail("stat {}", rel);
    // A socket file is made by the bind of the socket the restore makes
    // again (kinds/files/unix_socket_restore.cpp); one no socket is bound
    // to any more cannot be made without one.
    if (S_ISSOCK(st.st_mode)) {
      if (bound && bound->contains({static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)})) return {};
      return unsupported("{}: a socket file no socket of the container is bound to: not supported yet", rel);
    }
    img::FsEntry& e = *tree->add_entries();
    e.set_path(rel);
    e.set_mode(st.st_mode);
    e.set_uid(st.st_uid);
    e.set_gid(st.st_gid);
    e.set_atime_ns(ns_of(st.st_atim));
    e.set_mtime_ns(ns_of(st.st_mtim));
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      auto [it, fresh] = inodes.try_emplace({st.st_dev, st.st_ino}, rel);
      if (!fresh) {
        e.set_hardlink_to(it->second);
        return {};
      }
    }
    switch (st.st_mode & S_IFMT) {
      case S_IFREG: {
        int fd = ::openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
        if (fd < 0 && errno == EPERM) fd = ::openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return sys_fail("open {}", rel);
        UniqueFd f(fd);
        return copy_file(f.get(), rel, e);
      }
      case S_IFDIR: {
        int fd = rel.empty() ? ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                             : ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return sys_fail("open directory {}", rel.empty() ? "/" : rel);
        DIR* d = ::fdopendir(fd);
        if (!d) {
          ::close(fd);
          return sys_fail("opendir {}", rel);
        }
        std::vector<std::string> names;
        while (dirent* de = ::readdir(d)) {
          if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) names.emplace_back(de->d_name);
        }
        std::sort(names.begin(), names.end());
        Status r;
        for (auto& n : names) {
          r = visit(::dirfd(d), n.c_str(), rel.empty() ? n : rel + "/" + n);
          if (!r) break;
        }
        ::closedir(d);
        return r;
      }
      case S_IFLNK: {
        char target[PATH_MAX + 1];
        ssize_t n = ::readlinkat(dirfd, name, target, PATH_MAX);
        if (n < 0) return sys_fail("readlink {}", rel);
        e.set_link(std::string(target, static_cast<size_t>(n)));
        return {};
      }
      case S_IFIFO:
        return {};
      case S_IFCHR:
      case S_IFBLK:
        // A restore would make it again for whoever the image says: only the
        // harmless ones (a node of the host's disk would hand it over).
        if (!S_ISCHR(st.st_mode) || !node_allowed(st.st_rdev))
          return unsupported("{}: {} device {}:{} in a container filesystem: not supported (only null, zero, full, "
                             "random, urandom, tty)", rel, S_ISCHR(st.st_mode) ? "character" : "block", major(st.st_rdev),
                             minor(st.st_rdev));
        e.set_rdev(st.st_rdev);
        return {};
      default:
        return unsupported("{}: file type {:#o} in a container filesystem: not supported yet", rel,
                           st.st_mode & S_IFMT);
    }
  }
};

}  // namespace

Result<img::FsTree> dump_fs_tree(const std::string& src, int data_fd, uint64_t* data_offset,
                                 image::ChunkStream* tags, const BoundSocketFiles* bound) {
  img::FsTree tree;
  Walker w{data_fd, data_offset, &tree, tags};
  w.bound = bound;
  TRY_CTX(w.visit(AT_FDCWD, src.c_str(), ""), "dump content of {}", src);
  tree.set_data_size(*data_offset);
  return tree;
}

Result<img::FsTree> dump_fs_tree_at(int root, const std::string& shown, int data_fd, uint64_t* data_offset,
                                    image::ChunkStream* tags, const BoundSocketFiles* bound) {
  img::FsTree tree;
  Walker w{data_fd, data_offset, &tree, tags};
  w.bound = bound;
  TRY_CTX(w.visit(root, ".", ""), "dump content of {}", shown);
  tree.set_data_size(*data_offset);
  return tree;
}

namespace {

Status check_path(const std::string& p) {
  // The image is input: no absolute paths, no "..", no empty components.
  if (p.empty()) return {};
  if (p.front() == '/') return bad_input("entry '{}': absolute path", p);
  if (p.find('\0') != std::string::npos) return bad_input("entry '{}': NUL byte in its path", p);
  for (auto part : split(p, '/'))
    if (part.empty() || part == "." || part == "..") return bad_input("entry '{}': bad path", p);
  return {};
}

// `buf`: allocated at the first file with data (see Walker::buf).
Status restore_file(const sys::PathEntry& at, const img::FsEntry& e, image::TaggedReader& data,
                    std::unique_ptr<char[]>& buf) {
  const std::string& p = e.path();
  if (!buf && e.size() > 0) buf = std::make_unique_for_overwrite<char[]>(kCopyBuf);
  int fd = ::openat(at.dir.get(), at.name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return sys_fail("create {}", p);
  UniqueFd f(fd);
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  uint64_t done = 0;
  Status r;
  while (done < e.size()) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kCopyBuf, e.size() - done));
    if (auto rd = data.read(e.data_offset() + done, reinterpret_cast<std::byte*>(buf.get()), n); !rd) {
      r = context(std::move(rd), fmt::format("data of {}", p));
      break;
    }
    const ssize_t got = static_cast<ssize_t>(n);
    XXH3_64bits_update(st, buf.get(), static_cast<size_t>(got));
    if (auto w = write_all(f.get(), buf.get(), static_cast<size_t>(got)); !w) {
      r = context(std::move(w), p);
      break;
    }
    done += static_cast<uint64_t>(got);
  }
  uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  if (!r) return r;
  if (h != e.xxh3()) return bad_input("data of {}: checksum mismatch (corrupt image)", p);
  return {};
}

// Where entries are made: every directory on the way is one made here
// (validate_fs_tree), found without following any symlink or crossing a
// mount (sys::kOwnTree), so that a symlink of the tree (an image may hold
// "evil -> /var/tmp" and then "evil/x") is never followed out of it. The
// last directory stays open: entries come directory by directory.
class Placer {
 public:
  explicit Placer(int root) : root_(root) {}

  Result<const sys::PathEntry*> at(const std::string& path) {
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? std::string() : path.substr(0, slash);
    if (!cached_.dir || dir != dir_) {
      cached_.dir = TRY(sys::open_at(root_, dir, O_PATH | O_DIRECTORY, sys::kOwnTree));
      dir_ = dir;
    }
    cached_.name = slash == std::string::npos ? path : path.substr(slash + 1);
    return &cached_;
  }

  // The entry itself (the tree's root for ""), not followed.
  Result<UniqueFd> entry(const std::string& path) {
    if (path.empty()) return sys::open_at(root_, ".", O_PATH | O_DIRECTORY, sys::kOwnTree);
    return sys::open_entry(*TRY(at(path)));
  }

 private:
  int root_;
  std::string dir_;
  sys::PathEntry cached_;
};

// Owner and mode of the entry just made, on an O_PATH | O_NOFOLLOW open of
// it; its type must be the one made (nothing else writes a fresh tmpfs).
Status set_owner_mode(Placer& placer, const img::FsEntry& e, mode_t type) {
  const std::string& p = e.path();
  UniqueFd obj = TRY_CTX(placer.entry(p), "{}", p.empty() ? "/" : p);
  struct stat st {};
  if (::fstat(obj.get(), &st) != 0) return sys_fail("stat {}", p);
  if ((st.st_mode & S_IFMT) != type) return failf("{}: is not what was made here", p);
  TRY_CTX(sys::chown_fd(obj.get(), e.uid(), e.gid()), "{}", p);
  // After the chown, which clears set-id bits.
  if (type != S_IFLNK) TRY_CTX(sys::chmod_fd(obj.get(), e.mode() & 07777), "{}", p);
  return {};
}

}  // namespace

Status restore_fs_tree(const img::FsTree& tree, int data_fd, const image::ChunkAuth* auth, const std::string& dst) {
  // The mount point as named: no symlink on the way to it.
  UniqueFd root = TRY(sys::open_at(AT_FDCWD, dst, O_RDONLY | O_DIRECTORY, sys::kExact));
  return restore_fs_tree_at(tree, data_fd, auth, root.get());
}

Status restore_fs_tree_at(const img::FsTree& tree, int data_fd, const image::ChunkAuth* auth, int dst) {
  // Checked here too: restore_fs_tree is never handed a tree that was not.
  struct stat data_st {};
  uint64_t data_size = 0;
  if (data_fd >= 0) {
    if (::fstat(data_fd, &data_st) != 0) return sys_fail("stat the data file");
    data_size = static_cast<uint64_t>(data_st.st_size);
  }
  TRY(validate_fs_tree(tree, data_size));
  UniqueFd root = TRY(sys::open_at(dst, ".", O_RDONLY | O_DIRECTORY, sys::kOwnTree));
  Placer placer(root.get());
  std::unique_ptr<char[]> buf;
  image::TaggedReader data(data_fd, tree.data_size(), image::kChunkSize, auth, tree.chunk_tags(), tree.data_file());
  for (const auto& e : tree.entries()) {
    const std::string& p = e.path();
    mode_t type = e.mode() & S_IFMT;
    if (!p.empty()) {
      const sys::PathEntry& at = *TRY_CTX(placer.at(p), "{}", p);
      if (!e.hardlink_to().empty()) {
        sys::PathEntry target = TRY_CTX(sys::open_parent(root.get(), e.hardlink_to(), sys::kOwnTree), "{}",
                                        e.hardlink_to());
        // Flags 0: a symlink is linked itself, never followed.
        if (::linkat(target.dir.get(), target.name.c_str(), at.dir.get(), at.name.c_str(), 0) != 0)
          return sys_fail("link {} to {}", p, e.hardlink_to());
        continue;
      }
      switch (type) {
        case S_IFDIR:
          if (::mkdirat(at.dir.get(), at.name.c_str(), 0700) != 0) return sys_fail("mkdir {}", p);
          break;
        case S_IFREG:
          TRY(restore_file(at, e, data, buf));
          break;
        case S_IFLNK:
          if (::symlinkat(e.link().c_str(), at.dir.get(), at.name.c_str()) != 0) return sys_fail("symlink {}", p);
          break;
        case S_IFIFO:
        case S_IFCHR:
        case S_IFBLK:
          if (::mknodat(at.dir.get(), at.name.c_str(), type | 0600, static_cast<dev_t>(e.rdev())) != 0)
            return sys_fail("mknod {}", p);
          break;
        default:
          return bad_input("entry '{}': unknown file type {:o}", p, type);
      }
    }
    TRY(set_owner_mode(placer, e, type));
  }
  // Times last, children before parents: creating an entry changes its
  // directory's mtime.
  for (int i = tree.entries_size() - 1; i >= 0; i--) {
    const auto& e = tree.entries(i);
    timespec t[2] = {ts_of(e.atime_ns()), ts_of(e.mtime_ns())};
    UniqueFd obj = TRY_CTX(placer.entry(e.path()), "{}", e.path().empty() ? "/" : e.path());
    TRY_CTX(sys::set_times_fd(obj.get(), t), "{}", e.path().empty() ? "/" : e.path());
  }
  return {};
}

Status validate_fs_tree(const img::FsTree& tree, uint64_t data_size) {
  std::map<std::string_view, mode_t> type_of;  // the entries seen so far
  for (const auto& e : tree.entries()) {
    const std::string& p = e.path();
    TRY(check_path(p));
    TRY(check_path(e.hardlink_to()));
    if (p.empty() ? !type_of.empty() : type_of.empty())
      return bad_input("entry '{}': the tree's first entry must be its root, and only it", p);
    if (!p.empty()) {
      size_t slash = p.rfind('/');
      std::string_view dir = slash == std::string::npos ? std::string_view() : std::string_view(p).substr(0, slash);
      auto parent = type_of.find(dir);
      if (parent == type_of.end() || parent->second != S_IFDIR)
        return bad_input("entry '{}': its directory is not an earlier directory entry", p);
      if (type_of.contains(p)) return bad_input("entry '{}': listed twice", p);
    }
    mode_t type = e.mode() & S_IFMT;
    if (!e.hardlink_to().empty()) {
      auto target = type_of.find(e.hardlink_to());
      if (target == type_of.end() || target->second == S_IFDIR)
        return bad_input("entry '{}': hard link to '{}', which is no earlier file entry", p, e.hardlink_to());
      type = target->second;
    } else {
      switch (type) {
        case S_IFDIR: case S_IFLNK: case S_IFIFO:
          break;
        case S_IFCHR: case S_IFBLK:
          if (type != S_IFCHR || !node_allowed(static_cast<dev_t>(e.rdev())))
            return bad_input("entry '{}': {} device {}:{}: only null, zero, full, random, urandom and tty are made", p,
                             type == S_IFCHR ? "character" : "block", major(e.rdev()), minor(e.rdev()));
          break;
        case S_IFREG:
          if (e.data_offset() > data_size || e.size() > data_size - e.data_offset())
            return bad_input("entry '{}': {} bytes at offset {} are beyond the data file ({} bytes)", p, e.size(),
                             e.data_offset(), data_size);
          break;
        default:
          return bad_input("entry '{}': unknown file type {:o}", p, type);
      }
    }
    if (p.empty() && type != S_IFDIR) return bad_input("the tree's root is not a directory");
    type_of[p] = type;
  }
  return {};
}

std::string tmpfs_mount_data(const std::string& super_options) {
  std::string out;
  for (auto opt : split(super_options, ',')) {
    for (const char* keep : {"size=", "nr_inodes=", "mode=", "uid=", "gid=", "huge=", "nr_blocks="}) {
      if (starts_with(opt, keep)) {
        if (!out.empty()) out += ',';
        out += opt;
      }
    }
  }
  return out;
}

}  // namespace amber::kinds
