// Class 6: a SysV shm segment of the container's ipc namespace attached by
// an outside task. /proc/sysvipc/shm (read from a thread that joined the
// container's ipc namespace: the file lists the reader's namespace) gives
// each segment's nattch; the kernel counts one per mapping (VMA), so a
// segment the container's own mappings do not account for is attached from
// outside. Outside mappings named "/SYSV<key>" whose inode is the shmid
// (the kernel sets i_ino to the id) say who.
//
// The name keeps the key the segment was created with, while
// /proc/sysvipc/shm shows key 0 once it is marked for removal (IPC_RMID):
// mappings are matched by inode and the "/SYSV" prefix only. Shm ids are
// per ipc namespace, and every segment lives on one internal mount: the
// first segment of any fresh ipc namespace is "/SYSV00000000", inode 0, in
// every one of them. A file handle (name_to_handle_at of the mapping's
// /proc/PID/map_files entry: inode and a random generation) tells them
// apart; an outside mapping of another segment with the same id is not a
// holder. Without a container mapping to compare with (or when a handle
// cannot be had) the id alone decides.
#include <fcntl.h>

#include <cstring>
#include <map>
#include <optional>

#include "base/files.h"
#include "seal/detectors.h"
#include "sys/ns_thread.h"

namespace amber::seal {
namespace {

bool is_sysv_of(const sys::VmArea& a, uint64_t shmid) { return a.inode == shmid && a.path.rfind("/SYSV", 0) == 0; }

// The file handle of the file mapped at `a` in `pid` (type and bytes), or
// nullopt when there is none (task gone, a file system without handles).
std::optional<std::string> mapping_handle(pid_t pid, const sys::VmArea& a) {
  struct {
    file_handle fh;
    unsigned char bytes[MAX_HANDLE_SZ];
  } h{};
  h.fh.handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  std::string path = fmt::format("/proc/{}/map_files/{:x}-{:x}", pid, a.start, a.end);
  if (::name_to_handle_at(AT_FDCWD, path.c_str(), &h.fh, &mount_id, AT_SYMLINK_FOLLOW) < 0) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(&h.fh.handle_type), sizeof h.fh.handle_type);
  out.append(reinterpret_cast<const char*>(h.fh.f_handle), h.fh.handle_bytes);
  return out;
}

struct Segment {
  std::string key;  // hex as in the mapping name
  uint64_t shmid = 0;
  uint64_t nattch = 0;
  uint64_t size = 0;
  uint64_t inside = 0;  // container mappings
  uint64_t ipcns = 0;
  std::optional<std::string> handle;  // of a container mapping, if any
};

class SysvShmDetector : public Detector {
 public:
  Status prepare(const ContainerView& view, ScanWants& wants) override {
    std::map<uint64_t, const ContainerTask*> in_ipc;
    for (const auto& t : view.tasks)
      if (t.ns.count("ipc")) in_ipc.emplace(t.ns.at("ipc"), &t);
    for (const auto& [ino, t] : in_ipc) {
      UniqueFd ns = TRY_CTX(open_fd(fmt::format("/proc/{}/ns/ipc", t->ref.pid), O_RDONLY),
                            "ipc namespace of container task {}", t->ref.vpid);
      std::string text = TRY_CTX(
          sys::in_namespace(ns.get(), CLONE_NEWIPC, [] { return read_file("/proc/sysvipc/shm"); }),
          "SysV shm of ipc:[{}]", ino);
      bool header = true;
      for (auto line : split(text, '\n')) {
        if (header) {
          header = false;
          continue;
        }
        auto f = split_ws(line);
        // key shmid perms size cpid lpid nattch ...
        if (f.size() < 7) continue;
        Segment s;
        auto key = parse_int(f[0]);
        s.key = fmt::format("{:08x}", static_cast<uint32_t>(key ? *key : 0));
        s.shmid = parse_uint(f[1]).value_or(0);
        s.size = parse_uint(f[3]).value_or(0);
        s.nattch = parse_uint(f[6]).value_or(0);
        s.ipcns = ino;
        segments_.push_back(s);
      }
    }
    for (Segment& s : segments_) {
      for (const auto& t : view.tasks)
        for (const auto& a : t.maps)
          if (is_sysv_of(a, s.shmid)) {
            ++s.inside;
            if (!s.handle) s.handle = mapping_handle(t.ref.pid, a);
          }
      if (s.nattch > s.inside) wants.sysv_maps = true;
    }
    return {};
  }

  Status detect(const ContainerView& view, HostIndex& host, std::vector<Leak>& leaks,
                std::vector<std::string>&) override {
    for (const Segment& s : segments_) {
      if (s.nattch <= s.inside) continue;
      Leak l;
      l.cls = LeakClass::SysvShm;
      l.kind = "SysV shm segment";
      l.id = fmt::format("shmid {} in ipc:[{}]", s.shmid, s.ipcns);
      l.name = fmt::format("key 0x{} ({} bytes, {} attachments, {} in the container)", s.key, s.size, s.nattch,
                           s.inside);
      for (const auto& t : view.tasks)
        for (const auto& a : t.maps)
          if (is_sysv_of(a, s.shmid)) l.inside.push_back(Holder{t.ref, fmt::format("mapping at {:#x}", a.start)});
      for (const MapHolder& m : host.sysv) {
        if (!is_sysv_of(m.area, s.shmid)) continue;
        if (s.handle) {
          auto h = mapping_handle(m.pid, m.area);
          if (h && *h != *s.handle) continue;  // the same id in another ipc namespace
        }
        add_outside(l, Holder{host.ref(m.pid), fmt::format("mapping at {:#x}", m.area.start)});
      }
      if (l.outside.empty())
        l.outside.push_back(Holder{TaskRef{0, 0, "?"}, fmt::format("{} attachment(s) not found in any task's maps",
                                                                   s.nattch - s.inside)});
      l.external = fmt::format("shm:{}", s.shmid);
      l.remedy = "detach it outside (shmdt), or declare it with --external " + l.external;
      leaks.push_back(std::move(l));
    }
    return {};
  }

 private:
  std::vector<Segment> segments_;
};

}  // namespace

std::unique_ptr<Detector> sysv_shm_detector() { return std::make_unique<SysvShmDetector>(); }

}  // namespace amber::seal
