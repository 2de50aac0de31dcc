// Class 7: a shared mapping of the container (MAP_SHARED anonymous memory,
// shown as "/dev/zero (deleted)"; a memfd; a file on tmpfs or /dev/shm or
// anywhere else) that an outside task maps too, or — for memfds, which
// only exist through their holders — holds an fd on. An outside private
// mapping of the same file is no leak: its writes never reach the file. Nor
// are read-only shared mappings of a file on both sides (glibc maps
// gconv-modules.cache that way in every process): nobody can write through
// them, and restore maps the file again rather than its content. Anonymous
// shared memory and memfds are content the dump saves: any outside shared
// mapping of them counts. SysV shm mappings are class 6.
//
// An outside fd is found by its link ("/memfd:NAME (deleted)"), which only
// names the memfd: each candidate is stat'ed and kept only if it is the
// container's inode. memfds, shared anonymous memory and SysV segments all
// live on one internal mount, and a SysV segment's inode number is its
// shm id: an outside SysV mapping is never a holder of the others.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <map>

#include "seal/detectors.h"

namespace amber::seal {
namespace {

bool is_sysv(const sys::VmArea& a) { return a.path.rfind("/SYSV", 0) == 0; }
bool is_memfd(const sys::VmArea& a) { return a.path.rfind("/memfd:", 0) == 0; }
// Memory whose content only lives in its mappings and holders.
bool is_anon_shared(const sys::VmArea& a) { return is_memfd(a) || (a.path == "/dev/zero" && a.deleted); }
// A container mapping the check is about.
bool relevant(const sys::VmArea& a) { return a.shared && a.inode && !is_sysv(a) && (a.write || is_anon_shared(a)); }

std::string display_name(const sys::VmArea& a) { return a.deleted ? a.path + " (deleted)" : a.path; }

// Whether fd `fd` of `pid` is open on the file mapped at `a`.
bool fd_is_file_of(pid_t pid, int fd, const sys::VmArea& a) {
  struct stat st {};
  if (::stat(fmt::format("/proc/{}/fd/{}", pid, fd).c_str(), &st) < 0) return false;  // gone meanwhile
  return st.st_ino == a.inode && major(st.st_dev) == a.dev_major && minor(st.st_dev) == a.dev_minor;
}

class MappingDetector : public Detector {
 public:
  Status prepare(const ContainerView& view, ScanWants& wants) override {
    for (const auto& t : view.tasks)
      for (const auto& a : t.maps) {
        if (!relevant(a)) continue;
        wants.maps.insert({dev_of(a), a.inode});
        if (is_memfd(a)) wants.fd_links.insert(display_name(a));
      }
    return {};
  }

  Status detect(const ContainerView& view, HostIndex& host, std::vector<Leak>& leaks,
                std::vector<std::string>&) override {
    std::map<std::pair<uint64_t, uint64_t>, Leak> found;
    for (const auto& t : view.tasks) {
      for (const auto& a : t.maps) {
        if (!relevant(a)) continue;
        auto key = std::make_pair(dev_of(a), a.inode);
        std::vector<Holder> outside;
        if (auto it = host.maps.find(key); it != host.maps.end())
          for (const MapHolder& m : it->second)
            if (m.area.shared && !is_sysv(m.area) && (m.area.write || is_anon_shared(a)))
              outside.push_back(Holder{host.ref(m.pid), fmt::format("mapping at {:#x}", m.area.start)});
        if (is_memfd(a))
          if (auto it = host.fds.find(display_name(a)); it != host.fds.end())
            for (const FdHolder& h : it->second)
              if (fd_is_file_of(h.pid, h.fd, a)) outside.push_back(Holder{host.ref(h.pid), fmt::format("fd {}", h.fd)});
        if (outside.empty()) continue;
        auto [pos, fresh] = found.try_emplace(key);
        Leak& l = pos->second;
        l.inside.push_back(Holder{t.ref, fmt::format("mapping at {:#x}", a.start)});
        if (!fresh) continue;
        l.cls = LeakClass::SharedMapping;
        l.kind = a.path == "/dev/zero" ? "shared anonymous memory" : is_memfd(a) ? "memfd" : "shared file mapping";
        l.id = fmt::format("inode {} on dev {}:{}", a.inode, a.dev_major, a.dev_minor);
        l.name = display_name(a);
        for (auto& h : outside) add_outside(l, std::move(h));
        l.external = "mapping:" + a.path;
        l.remedy = "unmap it outside, or declare it with --external " + l.external;
      }
    }
    for (auto& [k, l] : found) leaks.push_back(std::move(l));
    return {};
  }
};

}  // namespace

std::unique_ptr<Detector> mapping_detector() { return std::make_unique<MappingDetector>(); }

}  // namespace amber::seal
