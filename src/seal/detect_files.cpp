// Classes 3 and 4: an open file description the container shares with an
// outside task (same description: kcmp KCMP_FILE; inherited across fork,
// taken with pidfd_getfd or passed with SCM_RIGHTS all look alike), and a
// pipe or FIFO with an end outside (same inode, any description: whoever
// holds the other end can fill or drain it).
#include <sys/stat.h>

#include <map>

#include "seal/detectors.h"
#include "sys/pidfd.h"

namespace amber::seal {
namespace {

bool is_pipe_link(const std::string& link) { return link.rfind("pipe:[", 0) == 0; }

bool is_fifo(pid_t pid, int fd) {
  struct stat st {};
  return ::stat(fmt::format("/proc/{}/fd/{}", pid, fd).c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
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
    return {};
  }

  Status detect(const ContainerView& view, HostIndex& host, std::vector<Leak>& leaks,
                std::vector<std::string>&) override {
    // One leak per pipe/FIFO and per shared description, with every
    // container fd on it.
    std::map<std::string, Leak> pipes;
    std::map<std::string, Leak> shared;
    for (const auto& t : view.tasks) {
      for (const auto& f : t.fds) {
        auto it = host.fds.find(f.link);
        if (it == host.fds.end()) continue;
        const bool pipe = is_pipe_link(f.link);
        if (pipe || (f.link.front() == '/' && is_fifo(t.ref.pid, f.fd))) {
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
        for (const FdHolder& h : it->second) {
          auto same = sys::kcmp(t.ref.pid, h.pid, sys::KcmpType::File, static_cast<unsigned long>(f.fd),
                                static_cast<unsigned long>(h.fd));
          if (!same || *same != 0) continue;  // another description of the same file, or gone
          std::string key = fmt::format("{}/{}", h.pid, h.fd);
          auto [pos, fresh] = shared.try_emplace(key);
          Leak& l = pos->second;
          if (fresh) {
            l.cls = LeakClass::SharedFile;
            l.kind = f.link.front() == '/' ? "file" : "file description";
            l.id = f.link;
            if (f.link.front() == '/') {
              l.name = f.link;
              l.external = "file:" + f.link;
            }
            l.remedy = l.external.empty() ? "close the outside fd (or give the container its own open)"
                                          : "close the outside fd, or declare it with --external " + l.external;
            add_outside(l, Holder{host.ref(h.pid), fmt::format("fd {}", h.fd)});
          }
          l.inside.push_back(fd_holder(t.ref, f.fd));
        }
      }
    }
    // Several outside fds on one description are one leak.
    std::map<std::string, Leak> merged;
    for (auto& [key, l] : shared) {
      std::string k = l.id + "|" + fmt::format("{}/{}", l.inside.front().task.pid, l.inside.front().how);
      auto [pos, fresh] = merged.try_emplace(k, l);
      if (!fresh)
        for (auto& h : l.outside) add_outside(pos->second, h);
    }
    for (auto& [k, l] : pipes) leaks.push_back(std::move(l));
    for (auto& [k, l] : merged) leaks.push_back(std::move(l));
    return {};
  }
};

}  // namespace

std::unique_ptr<Detector> file_detector() { return std::make_unique<FileDetector>(); }

}  // namespace amber::seal
