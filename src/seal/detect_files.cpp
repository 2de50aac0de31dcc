// Classes 3 and 4: an open file description the container shares with an
// outside task (same description: kcmp KCMP_FILE; inherited across fork,
// taken with pidfd_getfd or passed with SCM_RIGHTS all look alike), and a
// pipe or FIFO with an end outside (same inode, any description: whoever
// holds the other end can fill or drain it).
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include <cerrno>

#include <map>
#include <set>

#include "base/files.h"
#include "seal/detectors.h"
#include "sys/procfs.h"
#include "sys/pidfd.h"

namespace amber::seal {
namespace {

constexpr long kMqueueMagic = 0x19800202;  // MQUEUE_MAGIC

bool is_pipe_link(const std::string& link) { return link.rfind("pipe:[", 0) == 0; }

// A pty end: the ptmx device (5:2) or a slave (majors 136-143).
bool is_pty_rdev(dev_t rdev) {
  return rdev == makedev(5, 2) || (major(rdev) >= 136 && major(rdev) < 144);
}

// The fd is on an mqueue filesystem.
bool is_mqueue_fd(pid_t pid, int fd) {
  struct statfs fs {};
  return ::statfs(fmt::format("/proc/{}/fd/{}", pid, fd).c_str(), &fs) == 0 && fs.f_type == kMqueueMagic;
}

// stat of the file fd `fd` of `pid` is open on; false if it is gone.
bool stat_fd(pid_t pid, int fd, struct stat& st) {
  return ::stat(fmt::format("/proc/{}/fd/{}", pid, fd).c_str(), &st) == 0;
}

std::string inode_in_link(const std::string& link) {
  size_t b = link.find('[');
  return b == std::string::npos ? std::string() : link.substr(b + 1, link.size() - b - 2);
}

class FileDetector : public Detector {
 public:
  Status prepare(const ContainerView& view, ScanWants& wants) override {
    for (const auto& t : view.tasks)
      for (const auto& f : t.fds) wants.fd_links.insert(f.link);
    // The console of a --tty container: its master is the shim's (amber's,
    // excluded from "outside"), but whoever else holds that description
    // (an `amber attach`, anyone it was passed to) types into it and reads
    // what the container writes while the dump reads the pair's queues.
    consoles_.clear();
    for (const TaskRef& shim : view.target.shims) {
      auto fds = sys::list_fds(shim.pid);
      if (!fds) continue;
      for (int fd : *fds) {
        struct stat st {};
        if (!stat_fd(shim.pid, fd, st) || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(5, 2)) continue;
        auto link = read_link(fmt::format("/proc/{}/fd/{}", shim.pid, fd));
        if (!link) continue;
        consoles_.push_back({shim, fd, *link});
        wants.fd_links.insert(*link);
      }
    }
    return {};
  }

  Status detect(const ContainerView& view, HostIndex& host, std::vector<Leak>& leaks,
                std::vector<std::string>&) override {
    // One leak per pipe/FIFO and per shared description, with every
    // container fd on it.
    std::map<std::string, Leak> pipes;
    std::map<std::string, Leak> ptys;  // by link; outside holders only kept if any
    // Container fds on a regular link (a path, "anon_inode:...") that an
    // outside task has open too, by link, in view order.
    std::map<std::string, std::vector<std::pair<const ContainerTask*, int>>> files;
    // The files (st_dev, st_ino) the container has open under each of
    // those links; unknown if one could not be stat'ed.
    std::map<std::string, std::set<std::pair<dev_t, ino_t>>> file_ids;
    std::set<std::string> unknown_ids;
    for (const auto& t : view.tasks) {
      for (const auto& f : t.fds) {
        auto it = host.fds.find(f.link);
        if (it == host.fds.end()) continue;
        const bool pipe = is_pipe_link(f.link);
        struct stat st {};
        const bool have_st = !pipe && stat_fd(t.ref.pid, f.fd, st);
        if (pipe || (f.link.front() == '/' && have_st && S_ISFIFO(st.st_mode))) {
          auto [pos, fresh] = pipes.try_emplace(f.link);
          Leak& l = pos->second;
          l.inside.push_back(fd_holder(t.ref, f.fd));
          if (!fresh) continue;
          l.cls = LeakClass::Pipe;
          l.kind = pipe ? "pipe" : "fifo";
          l.id = f.link;
          if (pipe) {
            l.external = "pipe:" + inode_in_link(f.link);
          } else {
            l.name = f.link;
            l.external = "fifo:" + f.link;
          }
          l.remedy = "close the outside end, or declare it with --external " + l.external;
          for (const FdHolder& h : it->second) add_outside(l, Holder{host.ref(h.pid), fmt::format("fd {}", h.fd)});
          continue;
        }
        // A pty of the container's devpts held outside through any
        // description (the same device on the same devpts: its slave, or a
        // master of that devpts, which can also take the indexes the
        // restore needs): whoever holds it can feed or drain the pair.
        if (have_st && S_ISCHR(st.st_mode) && is_pty_rdev(st.st_rdev)) {
          auto [pos, fresh] = ptys.try_emplace(f.link);
          Leak& l = pos->second;
          l.inside.push_back(fd_holder(t.ref, f.fd));
          if (!fresh) continue;
          l.cls = LeakClass::SharedFile;
          l.kind = "pty";
          l.id = f.link;
          l.name = f.link;
          l.remedy = "close the outside fd of the container's pty";
          for (const FdHolder& h : it->second) {
            struct stat hs {};
            if (stat_fd(h.pid, h.fd, hs) && hs.st_dev == st.st_dev && hs.st_rdev == st.st_rdev)
              add_outside(l, Holder{host.ref(h.pid), fmt::format("fd {}", h.fd)});
          }
          continue;
        }
        // A POSIX message queue: every description of it counts
        // (detect_mqueue.cpp), not only this one.
        if (have_st && S_ISREG(st.st_mode) && is_mqueue_fd(t.ref.pid, f.fd)) continue;
        files[f.link].emplace_back(&t, f.fd);
        if (have_st)
          file_ids[f.link].emplace(st.st_dev, st.st_ino);
        else
          unknown_ids.insert(f.link);
      }
    }
    // Shared descriptions, without comparing every container fd with every
    // outside fd on the same link (a hundred container tasks and a thousand
    // host daemons all have a "/dev/null"): kcmp orders descriptions, so the
    // container's distinct descriptions of a link are kept sorted and each
    // fd, inside or outside, is placed by binary search —
    // O((inside + outside) * log(distinct)) kcmp calls. An outside fd on
    // another file under the same name (the host's /dev/null, not the
    // container's) is told apart by stat first, without kcmp.
    std::map<std::string, Leak> shared;  // by link and first container fd
    for (const auto& [link, inside] : files) {
      struct Description {
        pid_t pid = 0;
        int fd = 0;
        std::vector<Holder> inside, outside;
      };
      std::vector<Description> descs;  // kcmp order
      // kcmp(pid, fd) against descs[i]: 0 same, <0 sorts before, >0 after.
      auto compare = [&](pid_t pid, int fd, const Description& d) -> Result<int> {
        int r = TRY(sys::kcmp(pid, d.pid, sys::KcmpType::File, static_cast<unsigned long>(fd),
                              static_cast<unsigned long>(d.fd)));
        return r == 0 ? 0 : r == 1 ? -1 : 1;
      };
      // The index of the description of (pid, fd), or where it would go (found = false).
      auto locate = [&](pid_t pid, int fd, bool& found) -> Result<size_t> {
        size_t lo = 0, hi = descs.size();
        found = false;
        while (lo < hi) {
          size_t mid = lo + (hi - lo) / 2;
          int c = TRY(compare(pid, fd, descs[mid]));
          if (c == 0) {
            found = true;
            return mid;
          }
          if (c < 0)
            hi = mid;
          else
            lo = mid + 1;
        }
        return lo;
      };
      for (const auto& [t, fd] : inside) {
        bool found = false;
        auto located = locate(t->ref.pid, fd, found);
        // Held tasks keep their fds; one that is gone anyway cannot leak.
        if (!located && (located.error().sys_errno == EBADF || located.error().sys_errno == ESRCH)) continue;
        size_t i = TRY_CTX(std::move(located), "kcmp of container task {} fd {}", t->ref.vpid, fd);
        if (!found) descs.insert(descs.begin() + static_cast<std::ptrdiff_t>(i), Description{t->ref.pid, fd, {}, {}});
        descs[i].inside.push_back(fd_holder(t->ref, fd));
      }
      const auto& ids = file_ids[link];
      const bool filter = !unknown_ids.count(link);
      for (const FdHolder& h : host.fds.at(link)) {
        struct stat st {};
        if (filter && (!stat_fd(h.pid, h.fd, st) || !ids.count({st.st_dev, st.st_ino}))) continue;
        bool found = false;
        auto i = locate(h.pid, h.fd, found);
        if (!i || !found) continue;  // another description of the same file, or gone
        descs[*i].outside.push_back(Holder{host.ref(h.pid), fmt::format("fd {}", h.fd)});
      }
      for (auto& d : descs) {
        if (d.outside.empty()) continue;
        Leak l;
        l.cls = LeakClass::SharedFile;
        l.kind = link.front() == '/' ? "file" : "file description";
        l.id = link;
        if (link.front() == '/') {
          l.name = link;
          l.external = "file:" + link;
        }
        l.remedy = l.external.empty() ? "close the outside fd (or give the container its own open)"
                                      : "close the outside fd, or declare it with --external " + l.external;
        l.inside = std::move(d.inside);
        for (auto& h : d.outside) add_outside(l, std::move(h));
        std::string key = l.id + "|" + fmt::format("{}/{}", l.inside.front().task.pid, l.inside.front().how);
        shared.emplace(std::move(key), std::move(l));
      }
    }
    for (const Console& c : consoles_) {
      auto it = host.fds.find(c.link);
      if (it == host.fds.end()) continue;
      Leak l;
      l.cls = LeakClass::SharedFile;
      l.kind = "pty";
      l.id = "console";
      l.name = c.link;
      l.inside.push_back(Holder{c.shim, fmt::format("fd {} (its master, the container's shim)", c.fd)});
      l.remedy = "detach every `amber attach` of the container (Ctrl-P Ctrl-Q), or close the outside fd of its "
                 "console";
      for (const FdHolder& h : it->second) {
        auto same = sys::kcmp(h.pid, c.shim.pid, sys::KcmpType::File, static_cast<unsigned long>(h.fd),
                              static_cast<unsigned long>(c.fd));
        if (same && *same == 0) add_outside(l, Holder{host.ref(h.pid), fmt::format("fd {}", h.fd)});
      }
      if (!l.outside.empty() || l.outside_omitted > 0) leaks.push_back(std::move(l));
    }
    for (auto& [k, l] : pipes) leaks.push_back(std::move(l));
    for (auto& [k, l] : ptys)
      if (!l.outside.empty() || l.outside_omitted > 0) leaks.push_back(std::move(l));
    for (auto& [k, l] : shared) leaks.push_back(std::move(l));
    return {};
  }

 private:
  struct Console {
    TaskRef shim;
    int fd = -1;  // the shim's fd of the console's master
    std::string link;
  };
  std::vector<Console> consoles_;
};

}  // namespace

std::unique_ptr<Detector> file_detector() { return std::make_unique<FileDetector>(); }

}  // namespace amber::seal
