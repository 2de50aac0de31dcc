// Class 3 for POSIX message queues: an outside task with an fd on a queue
// of the container's ipc namespace (any description: whoever holds one can
// send or receive, and the dump drains and re-sends every queue while the
// container is held). The queues are listed through a detached mount of the
// namespace's mqueue filesystem (fsopen in a thread that joined it: the
// filesystem is per ipc namespace); an fd opened with mq_open has the link
// "/NAME" in any namespace, so outside fds on that link are matched by
// device and inode. Not seen: an outside fd opened through a mount of the
// container's mqueue filesystem at some path (its link is that path).
#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <map>

#include "base/files.h"
#include "seal/detectors.h"
#include "sys/ns_thread.h"

namespace amber::seal {
namespace {

struct Queue {
  std::string name;  // without "/"
  dev_t dev = 0;
  ino_t ino = 0;
  uint64_t ipcns = 0;
};

// The queues of the calling thread's ipc namespace; none without mqueue.
Result<std::vector<Queue>> list_queues() {
  UniqueFd fs(static_cast<int>(::syscall(SYS_fsopen, "mqueue", FSOPEN_CLOEXEC)));
  if (!fs) {
    if (errno == ENODEV) return std::vector<Queue>{};
    return sys_fail("fsopen(mqueue)");
  }
  if (::syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    return sys_fail("fsconfig(mqueue, create)");
  UniqueFd mnt(static_cast<int>(::syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, 0)));
  if (!mnt) return sys_fail("fsmount(mqueue)");
  UniqueFd dir(::openat(mnt.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return sys_fail("open the mqueue filesystem");
  DIR* d = ::fdopendir(dir.get());
  if (!d) return sys_fail("fdopendir mqueue");
  (void)dir.release();
  std::vector<Queue> out;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // removed meanwhile
    out.push_back({std::string(n), st.st_dev, st.st_ino, 0});
  }
  ::closedir(d);
  return out;
}

class MqueueDetector : public Detector {
 public:
  Status prepare(const ContainerView& view, ScanWants& wants) override {
    std::map<uint64_t, const ContainerTask*> in_ipc;
    for (const auto& t : view.tasks)
      if (t.ns.count("ipc")) in_ipc.emplace(t.ns.at("ipc"), &t);
    for (const auto& [ino, t] : in_ipc) {
      UniqueFd ns = TRY_CTX(open_fd(fmt::format("/proc/{}/ns/ipc", t->ref.pid), O_RDONLY | O_CLOEXEC),
                            "ipc namespace of container task {}", t->ref.vpid);
      std::vector<Queue> qs = TRY_CTX(sys::in_namespace(ns.get(), CLONE_NEWIPC, [] { return list_queues(); }),
                                      "POSIX message queues of ipc:[{}]", ino);
      for (Queue& q : qs) {
        q.ipcns = ino;
        wants.fd_links.insert("/" + q.name);
        queues_.push_back(std::move(q));
      }
    }
    return {};
  }

  Status detect(const ContainerView& view, HostIndex& host, std::vector<Leak>& leaks,
                std::vector<std::string>&) override {
    for (const Queue& q : queues_) {
      const std::string link = "/" + q.name;
      auto it = host.fds.find(link);
      if (it == host.fds.end()) continue;
      Leak l;
      for (const FdHolder& h : it->second) {
        struct stat st {};
        if (::stat(fmt::format("/proc/{}/fd/{}", h.pid, h.fd).c_str(), &st) != 0) continue;  // gone
        if (st.st_dev != q.dev || st.st_ino != q.ino) continue;  // another namespace's queue, or a file
        add_outside(l, Holder{host.ref(h.pid), fmt::format("fd {}", h.fd)});
      }
      if (l.outside.empty() && l.outside_omitted == 0) continue;
      l.cls = LeakClass::SharedFile;
      l.kind = "POSIX message queue";
      l.id = fmt::format("{} in ipc:[{}]", link, q.ipcns);
      l.name = link;
      for (const auto& t : view.tasks)
        for (const auto& f : t.fds)
          if (f.link == link) {
            struct stat st {};
            if (::stat(fmt::format("/proc/{}/fd/{}", t.ref.pid, f.fd).c_str(), &st) == 0 && st.st_dev == q.dev &&
                st.st_ino == q.ino)
              l.inside.push_back(fd_holder(t.ref, f.fd));
          }
      l.remedy = "close the outside fd of the container's message queue";
      leaks.push_back(std::move(l));
    }
    return {};
  }

 private:
  std::vector<Queue> queues_;
};

}  // namespace

std::unique_ptr<Detector> mqueue_detector() { return std::make_unique<MqueueDetector>(); }

}  // namespace amber::seal
