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
#include <set>

#include "base/files.h"
#include "image/layout.h"
#include "kinds/mm_internal.h"
#include "sys/procfs.h"
#include "sys/resolve.h"

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
// A memfd or an unlinked file mapped privately (VMA_MEMFD or
// VMA_FILE_DELETED without VMA_SHMEM): its object is one of shmem.img too,
// mapped MAP_PRIVATE from it.
bool is_private_memfd_area(const img::VmArea& a) {
  return (a.flags() & (img::VMA_MEMFD | img::VMA_FILE_DELETED)) && (a.flags() & img::VMA_FILE) &&
         !(a.flags() & (img::VMA_SHMEM | img::VMA_SHARED));
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
  std::string path;  // "/dev/zero", "/memfd:NAME" or an unlinked file's name in the container's root
  img::ShmemKind kind = img::SHMEM_ANON;
};

img::ShmemKind kind_of_area(const img::VmArea& a) {
  if (a.flags() & img::VMA_MEMFD) return img::SHMEM_MEMFD;
  if (a.path() == "/dev/zero") return img::SHMEM_ANON;
  return img::SHMEM_FILE;
}

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
  if (fs.f_type != TMPFS_MAGIC)
    return unsupported("{}{} on filesystem type {:#x}: not supported yet", src.path,
                       src.kind == img::SHMEM_FILE ? " (deleted)" : "", fs.f_type);
  img::ShmemObject o;
  o.set_dev(src.dev);
  o.set_inode(src.inode);
  o.set_size(static_cast<uint64_t>(st.st_size));
  if (src.kind == img::SHMEM_FILE) {
    // Made again at its name by the init, on the container's tmpfs there.
    if (src.path.empty() || !src.path.starts_with("/"))
      return unsupported("{} (deleted): outside the container's root: not supported yet", src.path);
    if (st.st_nlink != 0) return unsupported("{}: deleted name of a file still linked elsewhere: not supported yet", src.path);
    o.set_kind(img::SHMEM_FILE);
    o.set_path(src.path);
    o.set_mode(st.st_mode & 07777);
    o.set_uid(st.st_uid);
    o.set_gid(st.st_gid);
  } else if (src.kind == img::SHMEM_MEMFD) {
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

// An fd of an unlinked file that some task maps shared (python's heap
// arena keeps both): a description of the SHMEM_FILE object, not an
// UnlinkedFile of its own, or writes through the fd would no longer show in
// the mappings after restore. Held tasks: /proc/PID/fd/N still names the
// object.
Status link_file_fds(const std::vector<ShmemHolder>& tasks, const std::map<Key, size_t>& seen,
                     const img::SharedMemory& objects) {
  std::set<uint64_t> taken;  // ofd ids whose UnlinkedFile goes
  std::map<Key, uint64_t> original;  // object -> its O_NOFOLLOW description
  for (const ShmemHolder& h : tasks) {
    if (!h.files) continue;
    for (img::Fd& fd : *h.files->mutable_fds()) {
      if (fd.kind() != img::FD_REGULAR || !fd.unlinked()) continue;
      struct stat st {};
      if (::stat(fmt::format("/proc/{}/fd/{}", h.pid, fd.fd()).c_str(), &st) != 0)
        return sys_fail("task {}: fd {}: stat {}", h.vpid, fd.fd(), fd.path());
      auto it = seen.find({st.st_dev, st.st_ino});
      if (it == seen.end() || objects.objects(static_cast<int>(it->second)).kind() != img::SHMEM_FILE) continue;
      fd.set_shmem_dev(st.st_dev);
      fd.set_shmem_inode(st.st_ino);
      taken.insert(fd.ofd_id());
      // O_NOFOLLOW stays in a description's flags (shm_open, python's
      // mkstemp use it), and no reopen through /proc/self/fd can have it:
      // one O_RDWR | O_NOFOLLOW description per file is restored as the one
      // the init creates the file with (Fd.memfd_original).
      if (!(fd.flags() & O_NOFOLLOW)) continue;
      auto [o, fresh] = original.emplace(std::pair{st.st_dev, st.st_ino}, fd.ofd_id());
      if ((fd.flags() & O_ACCMODE) != O_RDWR || (!fresh && o->second != fd.ofd_id()))
        return unsupported("task {}: fd {}: {} (deleted): a description opened O_NOFOLLOW{}: not supported yet",
                           h.vpid, fd.fd(), fd.path(), fresh ? " not read-write" : " besides another one");
      fd.set_memfd_original(true);
    }
  }
  for (const ShmemHolder& h : tasks) {
    if (!h.files) continue;
    auto* u = h.files->mutable_unlinked();
    for (int i = u->size() - 1; i >= 0; --i)
      if (taken.contains(u->Get(i).ofd_id())) u->DeleteSubrange(i, 1);
  }
  return {};
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
        TRY(add(h, {map_files_path(h.pid, a), a.dev(), a.inode(), a.path(), kind_of_area(a)}, area_label(a)));
    if (h.mm->exe_shmem_inode() != 0)
      TRY(add(h, {fmt::format("/proc/{}/exe", h.pid), h.mm->exe_shmem_dev(), h.mm->exe_shmem_inode(),
                  h.mm->exe_path(), img::SHMEM_MEMFD},
              "executable " + h.mm->exe_path()));
    if (!h.files) continue;
    for (const img::Fd& fd : h.files->fds())
      if (fd.kind() == img::FD_MEMFD)
        TRY(add(h, {fmt::format("/proc/{}/fd/{}", h.pid, fd.fd()), fd.shmem_dev(), fd.shmem_inode(), fd.path(),
                    img::SHMEM_MEMFD},
                fmt::format("fd {} {}", fd.fd(), fd.path())));
  }
  // Each is made again at its name: two unlinked files of one name (one
  // made and unlinked after the other) cannot both be.
  std::set<std::string> names;
  for (const img::ShmemObject& o : out.objects())
    if (o.kind() == img::SHMEM_FILE && !names.insert(o.path()).second)
      return unsupported("shared memory {} (deleted): two unlinked files of that name: not supported yet", o.path());
  TRY(link_file_fds(tasks, seen, out));
  return out;
}

// ---- restore ----

Result<ShmemPlan> read_shmem(const image::ImageReader& image) {
  ShmemPlan plan;
  if (!image.find(image::shmem_path())) return plan;
  plan.meta = TRY(image.read<img::SharedMemory>(image::shmem_path(), img::KIND_SHMEM));
  std::map<Key, int> seen;
  std::set<std::string> file_paths;  // SHMEM_FILE objects are made at their names
  for (int i = 0; i < plan.meta.objects_size(); i++) {
    const img::ShmemObject& o = plan.meta.objects(i);
    const std::string what = fmt::format("shared memory object {} (inode {})", i, o.inode());
    if (!seen.emplace(Key{o.dev(), o.inode()}, i).second) return bad_input("{}: listed twice", what);
    if (o.kind() != img::SHMEM_ANON && o.kind() != img::SHMEM_MEMFD && o.kind() != img::SHMEM_FILE)
      return bad_input("{}: unknown kind {}", what, static_cast<int>(o.kind()));
    if (o.kind() == img::SHMEM_FILE) {
      if (!o.path().starts_with("/") || o.path().find('\0') != std::string::npos || o.path().ends_with("/"))
        return bad_input("{}: bad path of an unlinked file", what);
      if (!file_paths.insert(o.path()).second)
        return unsupported("{}: a second unlinked file named {}: not supported yet", what, o.path());
    }
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
    const bool file = fd.kind() == img::FD_REGULAR && fd.shmem_inode() != 0;
    if (fd.kind() != img::FD_MEMFD && !file) continue;
    if (file && !fd.unlinked()) return bad_input("task {}: fd {}: corrupt: a shared memory file not unlinked", vpid, fd.fd());
    const img::ShmemKind want = file ? img::SHMEM_FILE : img::SHMEM_MEMFD;
    bool found = false;
    for (const img::ShmemObject& o : plan.meta.objects())
      found |= o.kind() == want && o.dev() == fd.shmem_dev() && o.inode() == fd.shmem_inode();
    if (!found)
      return bad_input("task {}: fd {}: {} {} is not in the image", vpid, fd.fd(), file ? "unlinked file" : "memfd",
                       fd.path());
  }
  auto object_of = [&](uint64_t dev, uint64_t inode, img::ShmemKind kind) {
    return std::any_of(plan.meta.objects().begin(), plan.meta.objects().end(), [&](const img::ShmemObject& o) {
      return o.kind() == kind && o.dev() == dev && o.inode() == inode;
    });
  };
  auto memfd_of = [&](uint64_t dev, uint64_t inode) { return object_of(dev, inode, img::SHMEM_MEMFD); };
  if (mm.exe_shmem_inode() != 0 && !memfd_of(mm.exe_shmem_dev(), mm.exe_shmem_inode()))
    return bad_input("task {}: executable {} is not a memfd of the image", vpid, mm.exe_path());
  for (const img::VmArea& a : mm.areas()) {
    if (is_private_memfd_area(a)) {
      const bool memfd = a.flags() & img::VMA_MEMFD;
      if (!object_of(a.dev(), a.inode(), memfd ? img::SHMEM_MEMFD : img::SHMEM_FILE))
        return bad_input("task {}: area {} maps {} (inode {}) the image does not have", vpid, area_label(a),
                         memfd ? "a memfd" : "an unlinked file", a.inode());
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

std::string object_name(const img::ShmemObject& o) {
  switch (o.kind()) {
    case img::SHMEM_MEMFD: return fmt::format("memfd:{}", o.name());
    case img::SHMEM_FILE: return fmt::format("unlinked file {}", o.path());
    default: return fmt::format("shared anonymous memory of {} bytes", o.size());
  }
}

// An unlinked file's content, for now in a memfd of the controller: the file
// itself can only be made in the container's tmpfs, by the init
// (place_shmem_files), which copies this.
Result<UniqueFd> create_file_content(const img::ShmemObject& o) {
  int fd = static_cast<int>(::syscall(SYS_memfd_create, "amber-unlinked-file", MFD_CLOEXEC));
  if (fd < 0) return sys_fail("memfd_create");
  UniqueFd f(fd);
  if (::ftruncate(f.get(), static_cast<off_t>(o.size())) != 0) return sys_fail("ftruncate {}", o.size());
  return f;
}

// Copies what `from` holds into `to` (sizes equal), holes left holes.
Status copy_file_data(int from, int to, uint64_t size) {
  std::vector<char> buf(size_t{1} << 20);
  off_t at = 0;
  while (static_cast<uint64_t>(at) < size) {
    off_t data = ::lseek(from, at, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;
    if (data < 0) return sys_fail("SEEK_DATA at {}", at);
    off_t hole = ::lseek(from, data, SEEK_HOLE);
    if (hole < 0) return sys_fail("SEEK_HOLE at {}", data);
    for (off_t off = data; off < hole;) {
      ssize_t n = ::pread(from, buf.data(), std::min<size_t>(buf.size(), static_cast<size_t>(hole - off)), off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return sys_fail("read at {}", off);
      for (ssize_t done = 0; done < n;) {
        ssize_t w = ::pwrite(to, buf.data() + done, static_cast<size_t>(n - done), off + done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return sys_fail("write at {}", off + done);
        done += w;
      }
      off += n;
    }
    at = hole;
  }
  return {};
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
    const std::string what = object_name(o);
    UniqueFd fd = o.kind() == img::SHMEM_MEMFD ? TRY_CTX(create_memfd(o), "{}", what)
                  : o.kind() == img::SHMEM_FILE ? TRY_CTX(create_file_content(o), "{}", what)
                                                : TRY_CTX(create_anon(o.size()), "{}", what);
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

Status place_shmem_files(const ShmemPlan& plan, const std::vector<int>& fds) {
  for (size_t i = 0; i < fds.size() && i < static_cast<size_t>(plan.meta.objects_size()); i++) {
    const img::ShmemObject& o = plan.meta.objects(static_cast<int>(i));
    if (o.kind() != img::SHMEM_FILE) continue;
    const std::string what = object_name(o);
    sys::PathEntry e = TRY_CTX(sys::open_parent(AT_FDCWD, o.path(), sys::kTaskPath), "{}", what);
    struct statfs fs {};
    if (::fstatfs(e.dir.get(), &fs) != 0) return sys_fail("{}: statfs", what);
    if (fs.f_type != TMPFS_MAGIC) return failf("{}: its directory is not on a tmpfs here", what);
    // O_EXCL: a file of that name in the restored tmpfs is another file.
    // O_RDWR | O_NOFOLLOW: the flags shm_open and mkstemp give their
    // description, which a task's fd may be (Fd.memfd_original).
    int raw = ::openat(e.dir.get(), e.name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (raw < 0) return sys_fail("{}: create it again", what);
    UniqueFd f(raw);
    if (::fchown(f.get(), o.uid(), o.gid()) != 0) return sys_fail("{}: chown {}:{}", what, o.uid(), o.gid());
    if (::fchmod(f.get(), o.mode()) != 0) return sys_fail("{}: chmod {:o}", what, o.mode());
    if (::ftruncate(f.get(), static_cast<off_t>(o.size())) != 0) return sys_fail("{}: ftruncate {}", what, o.size());
    TRY_CTX(copy_file_data(fds[i], f.get(), o.size()), "{}: content", what);
    // In place of the content's memfd, at its number: every task inherits it.
    if (::dup3(f.get(), fds[i], O_CLOEXEC) < 0) return sys_fail("{}: dup3", what);
  }
  return {};
}

Status take_shmem_files(const ShmemPlan& plan, std::vector<UniqueFd>& objects, pid_t init_host_pid) {
  UniqueFd root;
  for (size_t i = 0; i < objects.size(); i++) {
    const img::ShmemObject& o = plan.meta.objects(static_cast<int>(i));
    if (o.kind() != img::SHMEM_FILE) continue;
    const std::string what = object_name(o);
    if (!root) root = TRY(open_fd(fmt::format("/proc/{}/root", init_host_pid), O_PATH | O_DIRECTORY | O_CLOEXEC));
    sys::PathEntry e = TRY_CTX(sys::open_parent(root.get(), o.path(), sys::kInRoot), "{}", what);
    int raw = ::openat(e.dir.get(), e.name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (raw < 0) return sys_fail("{}: open it in the container", what);
    UniqueFd f(raw);
    struct stat st {};
    if (::fstat(f.get(), &st) != 0) return sys_fail("{}: fstat", what);
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || static_cast<uint64_t>(st.st_size) != o.size())
      return failf("{}: not the file the init made", what);
    if (::unlinkat(e.dir.get(), e.name.c_str(), 0) != 0) return sys_fail("{}: unlink", what);
    objects[i] = std::move(f);
  }
  return {};
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
