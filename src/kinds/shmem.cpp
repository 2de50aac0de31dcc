// Shared memory objects: dump once, recreate once, map into every holder
// (see shmem.h).
#include "kinds/shmem.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "base/files.h"
#include "image/layout.h"
#include "kinds/mm_internal.h"
#include "sys/procfs.h"

namespace amber::kinds {

using namespace mm_detail;

namespace {

using Key = std::pair<uint64_t, uint64_t>;  // (dev, inode) at dump time

constexpr size_t kChunk = size_t{16} << 20;
// memfd_create's limit on a name (NAME_MAX minus "memfd:").
constexpr size_t kMemfdNameMax = 249;
constexpr uint32_t kKnownSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE
#ifdef F_SEAL_EXEC
                                 | F_SEAL_EXEC
#endif
    ;

uint64_t page_up(uint64_t n) { return (n + kPage - 1) / kPage * kPage; }

bool is_shmem_area(const img::VmArea& a) { return a.flags() & img::VMA_SHMEM; }
// A memfd mapped privately (VMA_MEMFD without VMA_SHMEM): its object is
// one of shmem.img too, mapped MAP_PRIVATE from it.
bool is_private_memfd_area(const img::VmArea& a) {
  return (a.flags() & img::VMA_MEMFD) && !(a.flags() & img::VMA_SHMEM);
}

std::string map_files_path(pid_t pid, const img::VmArea& a) {
  return fmt::format("/proc/{}/map_files/{:x}-{:x}", pid, a.start(), a.end());
}

// Copies what the object holds: SEEK_DATA/SEEK_HOLE walk the pages shmem has
// (present or swapped), never the holes; pread in big chunks. The tail past
// i_size is padded to a page (the page store counts pages).
Status copy_content(int fd, uint64_t size, image::PageWriter& out, std::vector<std::byte>& buf) {
  off_t at = 0;
  while (static_cast<uint64_t>(at) < size) {
    off_t data = ::lseek(fd, at, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;  // nothing more
    if (data < 0) return sys_fail("SEEK_DATA at {}", at);
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    if (hole < 0) return sys_fail("SEEK_HOLE at {}", data);
    uint64_t s = static_cast<uint64_t>(data) / kPage * kPage;
    uint64_t e = std::min<uint64_t>(page_up(static_cast<uint64_t>(hole)), page_up(size));
    for (uint64_t off = s; off < e;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, e - off));
      size_t got = 0;
      while (got < n) {
        ssize_t r = ::pread(fd, buf.data() + got, n - got, static_cast<off_t>(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return sys_fail("read at {}", off + got);
        if (r == 0) break;  // i_size reached: the rest of the page reads as zeros
        got += static_cast<size_t>(r);
      }
      std::fill(buf.begin() + static_cast<ptrdiff_t>(got), buf.begin() + static_cast<ptrdiff_t>(n), std::byte{0});
      TRY(out.append(off, std::span<const std::byte>(buf.data(), n)));
      off += n;
    }
    at = static_cast<off_t>(e);
  }
  return {};
}

// One object to dump: where the dumper opens it, and what it is.
struct Source {
  std::string open_path;  // /proc/PID/map_files/... or /proc/PID/fd/N
  uint64_t dev = 0, inode = 0;
  std::string path;  // "/dev/zero" or "/memfd:NAME"
  bool memfd = false;
};

Result<img::ShmemObject> dump_object(const Source& src, size_t index, image::ImageWriter& image,
                                     std::vector<std::byte>& buf) {
  // The dumper's own open of the object, through the holder's mapping or
  // fd: the same inode, so F_GET_SEALS and fstat answer for the object.
  UniqueFd fd = TRY(open_fd(src.open_path, O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return sys_fail("fstat");
  if (st.st_dev != src.dev || st.st_ino != src.inode) return failf("{} is another file now", src.open_path);
  // A memfd made with MFD_HUGETLB lives on hugetlbfs: memfd_create without
  // that flag would restore something else.
  struct statfs fs {};
  if (::fstatfs(fd.get(), &fs) != 0) return sys_fail("fstatfs");
  if (fs.f_type != TMPFS_MAGIC) return unsupported("{} on filesystem type {:#x}: not supported yet", src.path, fs.f_type);
  img::ShmemObject o;
  o.set_dev(src.dev);
  o.set_inode(src.inode);
  o.set_size(static_cast<uint64_t>(st.st_size));
  if (src.memfd) {
    o.set_kind(img::SHMEM_MEMFD);
    std::string_view name = std::string_view(src.path).substr(std::string_view("/memfd:").size());
    o.set_name(std::string(name));
    o.set_mode(st.st_mode & 07777);
    int seals = ::fcntl(fd.get(), F_GET_SEALS);
    if (seals < 0) return sys_fail("F_GET_SEALS");
    if (static_cast<uint32_t>(seals) & ~kKnownSeals) return unsupported("memfd seals {:#x}: not supported yet", seals);
    o.set_seals(static_cast<uint32_t>(seals));
  } else {
    o.set_kind(img::SHMEM_ANON);
  }
  image::PageWriter pages =
      TRY(image::PageWriter::create(image, image::shmem_index_path(index), image::shmem_data_path(index)));
  TRY(copy_content(fd.get(), o.size(), pages, buf));
  TRY(pages.finish());
  o.set_pages_index(image::shmem_index_path(index));
  return o;
}

}  // namespace

Result<img::SharedMemory> dump_shmem(const std::vector<ShmemHolder>& tasks, image::ImageWriter& image) {
  img::SharedMemory out;
  std::map<Key, size_t> seen;
  std::vector<std::byte> buf;
  auto add = [&](const ShmemHolder& h, const Source& src, const std::string& what) -> Status {
    if (seen.contains({src.dev, src.inode})) return {};
    if (buf.empty()) buf.resize(kChunk);
    const size_t index = static_cast<size_t>(out.objects_size());
    *out.add_objects() = TRY_CTX(dump_object(src, index, image, buf), "task {}: shared memory {}", h.vpid, what);
    seen[{src.dev, src.inode}] = index;
    return {};
  };
  for (const ShmemHolder& h : tasks) {
    for (const img::VmArea& a : h.mm->areas())
      if (is_shmem_area(a) || is_private_memfd_area(a))
        TRY(add(h, {map_files_path(h.pid, a), a.dev(), a.inode(), a.path(), (a.flags() & img::VMA_MEMFD) != 0},
                area_label(a)));
    if (h.mm->exe_shmem_inode() != 0)
      TRY(add(h, {fmt::format("/proc/{}/exe", h.pid), h.mm->exe_shmem_dev(), h.mm->exe_shmem_inode(),
                  h.mm->exe_path(), true},
              "executable " + h.mm->exe_path()));
    if (!h.files) continue;
    for (const img::Fd& fd : h.files->fds())
      if (fd.kind() == img::FD_MEMFD)
        TRY(add(h, {fmt::format("/proc/{}/fd/{}", h.pid, fd.fd()), fd.shmem_dev(), fd.shmem_inode(), fd.path(), true},
                fmt::format("fd {} {}", fd.fd(), fd.path())));
  }
  return out;
}

// ---- restore ----

Result<ShmemPlan> read_shmem(const image::ImageReader& image) {
  ShmemPlan plan;
  if (!image.find(image::shmem_path())) return plan;
  plan.meta = TRY(image.read<img::SharedMemory>(image::shmem_path(), img::KIND_SHMEM));
  std::map<Key, int> seen;
  for (int i = 0; i < plan.meta.objects_size(); i++) {
    const img::ShmemObject& o = plan.meta.objects(i);
    const std::string what = fmt::format("shared memory object {} (inode {})", i, o.inode());
    if (!seen.emplace(Key{o.dev(), o.inode()}, i).second) return bad_input("{}: listed twice", what);
    if (o.kind() != img::SHMEM_ANON && o.kind() != img::SHMEM_MEMFD)
      return bad_input("{}: unknown kind {}", what, static_cast<int>(o.kind()));
    if (o.kind() == img::SHMEM_ANON && o.size() % kPage) return bad_input("{}: size {} is not in pages", what, o.size());
    if (o.kind() == img::SHMEM_MEMFD && (o.name().size() > kMemfdNameMax || o.name().find('\0') != std::string::npos))
      return bad_input("{}: bad memfd name", what);
    if (o.seals() & ~kKnownSeals) return unsupported("{}: seals {:#x}: not supported yet", what, o.seals());
    image::PageReader pages = TRY(image::PageReader::open(image, o.pages_index()));
    TRY(pages.validate_size());
    for (const img::PageRun& r : pages.index().runs())
      if (r.vaddr() % kPage || r.vaddr() + r.nr_pages() * kPage > page_up(o.size()))
        return bad_input("{}: content at {:#x} beyond its size {}", what, r.vaddr(), o.size());
    plan.pages.push_back(std::move(pages));
  }
  return plan;
}

std::map<std::pair<uint64_t, uint64_t>, int> shmem_fd_map(const ShmemPlan& plan, const std::vector<int>& fds) {
  std::map<std::pair<uint64_t, uint64_t>, int> out;
  for (size_t i = 0; i < fds.size() && i < static_cast<size_t>(plan.meta.objects_size()); i++) {
    const img::ShmemObject& o = plan.meta.objects(static_cast<int>(i));
    out[{o.dev(), o.inode()}] = fds[i];
  }
  return out;
}

Status check_shmem_refs(const ShmemPlan& plan, const img::Mm& mm, const img::Files& files, pid_t vpid) {
  for (const img::Fd& fd : files.fds()) {
    if (fd.kind() != img::FD_MEMFD) continue;
    bool found = false;
    for (const img::ShmemObject& o : plan.meta.objects())
      found |= o.kind() == img::SHMEM_MEMFD && o.dev() == fd.shmem_dev() && o.inode() == fd.shmem_inode();
    if (!found) return bad_input("task {}: fd {}: memfd {} is not in the image", vpid, fd.fd(), fd.path());
  }
  auto memfd_of = [&](uint64_t dev, uint64_t inode) {
    return std::any_of(plan.meta.objects().begin(), plan.meta.objects().end(), [&](const img::ShmemObject& o) {
      return o.kind() == img::SHMEM_MEMFD && o.dev() == dev && o.inode() == inode;
    });
  };
  if (mm.exe_shmem_inode() != 0 && !memfd_of(mm.exe_shmem_dev(), mm.exe_shmem_inode()))
    return bad_input("task {}: executable {} is not a memfd of the image", vpid, mm.exe_path());
  for (const img::VmArea& a : mm.areas()) {
    if (is_private_memfd_area(a)) {
      if (!(a.flags() & img::VMA_FILE) || (a.flags() & img::VMA_SHARED) || !memfd_of(a.dev(), a.inode()))
        return bad_input("task {}: area {} maps a memfd (inode {}) the image does not have", vpid, area_label(a),
                         a.inode());
      continue;
    }
    if (!is_shmem_area(a)) continue;
    if (!(a.flags() & img::VMA_SHARED) || !(a.flags() & img::VMA_FILE) || a.pages_in_store())
      return bad_input("task {}: area {}: corrupt shared memory area", vpid, area_label(a));
    auto it = std::find_if(plan.meta.objects().begin(), plan.meta.objects().end(),
                           [&](const img::ShmemObject& o) { return o.dev() == a.dev() && o.inode() == a.inode(); });
    if (it == plan.meta.objects().end())
      return bad_input("task {}: area {} maps shared memory (inode {}) the image does not have", vpid, area_label(a),
                       a.inode());
    // Past the end of a memfd an access faults with SIGBUS, as it did.
    if (it->kind() == img::SHMEM_ANON && a.offset() + (a.end() - a.start()) > it->size())
      return bad_input("task {}: area {} lies beyond its object's {} bytes", vpid, area_label(a), it->size());
  }
  return {};
}

namespace {

// A shared anonymous object as the kernel makes one for mmap(MAP_SHARED |
// MAP_ANONYMOUS) (shmem_zero_setup: "/dev/zero (deleted)"); there is no
// other way to have one. Reopened through our own map_files link.
Result<UniqueFd> create_anon(uint64_t size) {
  void* p = ::mmap(nullptr, size, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return sys_fail("mmap {} bytes of shared anonymous memory", size);
  const uint64_t s = reinterpret_cast<uint64_t>(p);
  auto fd = open_fd(fmt::format("/proc/self/map_files/{:x}-{:x}", s, s + size), O_RDWR | O_CLOEXEC);
  ::munmap(p, size);
  return fd;
}

Result<UniqueFd> create_memfd(const img::ShmemObject& o) {
  // F_SEAL_SEAL alone is what a memfd made without MFD_ALLOW_SEALING has.
  const bool sealing = o.seals() != F_SEAL_SEAL;
  unsigned flags = MFD_CLOEXEC | (sealing ? MFD_ALLOW_SEALING : 0u);
  int fd = static_cast<int>(::syscall(SYS_memfd_create, o.name().c_str(), flags));
  if (fd < 0) return sys_fail("memfd_create {}", o.name());
  UniqueFd f(fd);
  if (::ftruncate(f.get(), static_cast<off_t>(o.size())) != 0) return sys_fail("memfd {}: ftruncate {}", o.name(), o.size());
  if (::fchmod(f.get(), o.mode()) != 0) return sys_fail("memfd {}: chmod {:o}", o.name(), o.mode());
  return f;
}

// pwrite, clipped to i_size (a write past it would grow the object).
// Streamed through the reader's buffer: what is written is what its chunk
// tags were checked on (a mapping of the file would show a later change).
Status write_content(int fd, const img::ShmemObject& o, image::PageReader& pages) {
  return pages.for_each_run([&](uint64_t at, std::span<const std::byte> data) -> Status {
    if (at >= o.size()) return {};
    data = data.first(static_cast<size_t>(std::min<uint64_t>(data.size(), o.size() - at)));
    for (size_t done = 0; done < data.size();) {
      ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(at + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return sys_fail("write content at {:#x}", at + done);
      done += static_cast<size_t>(n);
    }
    return {};
  });
}

}  // namespace

Status copy_shmem_content(int fd, uint64_t size, image::PageWriter& out, std::vector<std::byte>& buf) {
  if (buf.size() < kChunk) buf.resize(kChunk);
  return copy_content(fd, size, out, buf);
}

Status write_shmem_content(int fd, uint64_t size, image::PageReader& pages) {
  img::ShmemObject o;
  o.set_size(size);
  return write_content(fd, o, pages);
}

Result<std::vector<UniqueFd>> create_shmem(ShmemPlan& plan) {
  std::vector<UniqueFd> out;
  for (int i = 0; i < plan.meta.objects_size(); i++) {
    const img::ShmemObject& o = plan.meta.objects(i);
    const std::string what = o.kind() == img::SHMEM_MEMFD ? fmt::format("memfd:{}", o.name())
                                                          : fmt::format("shared anonymous memory of {} bytes", o.size());
    UniqueFd fd = o.kind() == img::SHMEM_MEMFD ? TRY_CTX(create_memfd(o), "{}", what) : TRY_CTX(create_anon(o.size()), "{}", what);
    TRY_CTX(write_content(fd.get(), o, plan.pages[static_cast<size_t>(i)]), "{}", what);
    // Seals last: F_SEAL_WRITE would refuse the content.
    if (o.kind() == img::SHMEM_MEMFD && o.seals() != F_SEAL_SEAL && o.seals() != 0 &&
        ::fcntl(fd.get(), F_ADD_SEALS, static_cast<int>(o.seals())) != 0)
      return sys_fail("{}: F_ADD_SEALS {:#x}", what, o.seals());
    out.push_back(std::move(fd));
  }
  return out;
}

Result<ShmemFds> find_shmem_fds(pid_t host_pid, const ShmemPlan& plan, const std::vector<UniqueFd>& objects, int top) {
  ShmemFds out;
  if (objects.empty()) return out;
  std::map<Key, Key> by_now;  // (dev, inode) now -> in the image
  for (size_t i = 0; i < objects.size(); i++) {
    struct stat st {};
    if (::fstat(objects[i].get(), &st) != 0) return sys_fail("fstat shared memory object {}", i);
    const img::ShmemObject& o = plan.meta.objects(static_cast<int>(i));
    by_now[{st.st_dev, st.st_ino}] = {o.dev(), o.inode()};
  }
  for (int fd : TRY(sys::list_fds(host_pid))) {
    if (fd <= top) continue;
    struct stat st {};
    if (::stat(fmt::format("/proc/{}/fd/{}", host_pid, fd).c_str(), &st) != 0) continue;
    if (auto it = by_now.find({st.st_dev, st.st_ino}); it != by_now.end() && !out.emplace(it->second, fd).second)
      return failf("shared memory object (inode {}) is open twice above fd {}", it->second.second, top);
  }
  if (out.size() != objects.size())
    return failf("{} of {} shared memory objects are missing from the task's fds", objects.size() - out.size(),
                 objects.size());
  return out;
}

Status close_shmem_fds(remote::RemoteTask& task, const ShmemFds& fds) {
  std::vector<remote::Call> calls;
  for (const auto& [key, fd] : fds) calls.push_back(remote::make_call(SYS_close, fd));
  TRY(task.run_batch(calls));
  for (const remote::Call& c : calls)
    if (c.failed()) return sys_fail_errno(static_cast<int>(-c.result), "close a shared memory fd");
  return {};
}

}  // namespace amber::kinds
