// SysV shm segments, semaphore sets and message queues of an ipc namespace
// (see ipc_sysv.h).
#include "kinds/ns/ipc_sysv.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>

#include "base/files.h"
#include "base/unique_fd.h"
#include "image/layout.h"
#include "kinds/shmem.h"

#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY 15
#endif
#ifndef SEM_STAT_ANY
#define SEM_STAT_ANY 20
#endif
#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif

namespace amber::kinds {

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint32_t kSemVmx = 32767;  // SEMVMX: the largest semaphore value
constexpr int32_t kAdjMin = -32768;  // a semadj is in [-SEMAEM - 1, SEMAEM]
constexpr int32_t kAdjMax = 32767;

uint64_t page_up(uint64_t n) { return (n + kPage - 1) / kPage * kPage; }

union SemArg {
  int val;
  semid_ds* buf;
  unsigned short* array;
  seminfo* info;
};

void get_perm(const ipc_perm& p, int id, img::IpcPerm& out) {
  out.set_key(p.__key);
  out.set_id(id);
  out.set_uid(p.uid);
  out.set_gid(p.gid);
  out.set_cuid(p.cuid);
  out.set_cgid(p.cgid);
  out.set_mode(p.mode & 0777);
}

std::string key_text(int32_t key) { return fmt::format("{:#x}", static_cast<uint32_t>(key)); }

Result<int64_t> read_sysctl_int(const char* name) {
  std::string v = TRY(read_file(fmt::format("/proc/sys/kernel/{}", name)));
  auto n = parse_int(trim(v));
  if (!n) return failf("/proc/sys/kernel/{} reads '{}'", name, trim(v));
  return *n;
}

// ---- dump ----

// The segment's shmem file, opened through an attach of our own: the
// map_files link of the attach is the segment's file (do_shmat maps a clone
// of it), and its name "/SYSV%08x" keeps the creation key.
struct ShmFile {
  UniqueFd fd;
  int32_t name_key = 0;
};

Result<ShmFile> open_segment(int id, uint64_t size) {
  void* at = ::shmat(id, nullptr, SHM_RDONLY);
  if (at == reinterpret_cast<void*>(-1)) return sys_fail("shmat");
  const uint64_t s = reinterpret_cast<uint64_t>(at);
  const std::string link = fmt::format("/proc/self/map_files/{:x}-{:x}", s, s + page_up(size));
  char name[256] = {};
  ssize_t n = ::readlink(link.c_str(), name, sizeof name - 1);
  auto fd = open_fd(link, O_RDONLY | O_CLOEXEC);
  ::shmdt(at);
  if (n < 0) return sys_fail("readlink {}", link);
  std::string_view nm(name, static_cast<size_t>(n));
  if (!nm.starts_with("/SYSV") || nm.size() < 13) return failf("its attach is named '{}', not /SYSV<key>", nm);
  ShmFile out;
  out.name_key = static_cast<int32_t>(std::stoul(std::string(nm.substr(5, 8)), nullptr, 16));
  out.fd = TRY(std::move(fd));
  return out;
}

Status dump_shm(img::IpcNs& out, image::ImageWriter* image, bool rmid_forced) {
  shm_info info{};
  const int max = ::shmctl(0, SHM_INFO, reinterpret_cast<shmid_ds*>(&info));
  if (max < 0) return sys_fail("shmctl(SHM_INFO)");
  std::vector<std::byte> buf;
  for (int i = 0; i <= max; i++) {
    shmid_ds ds{};
    const int id = ::shmctl(i, SHM_STAT_ANY, &ds);
    if (id < 0 && errno == EINVAL) continue;  // a free index
    if (id < 0) return sys_fail("shmctl(SHM_STAT_ANY, {})", i);
    img::SysvShm* s = out.add_shm();
    get_perm(ds.shm_perm, id, *s->mutable_perm());
    s->set_size(ds.shm_segsz);
    s->set_removed(ds.shm_perm.mode & SHM_DEST);
    s->set_locked(ds.shm_perm.mode & SHM_LOCKED);
    s->set_nattch(static_cast<uint32_t>(ds.shm_nattch));
    const std::string what = fmt::format("SysV shm segment key {} (id {}, {} bytes)", key_text(s->perm().key()), id,
                                         ds.shm_segsz);
    // Writing kernel.shm_rmid_forced=1 destroys every segment attached
    // nowhere whose creator is gone (shm_destroy_orphaned): after a restore
    // the creator is always gone, so this segment would be lost.
    if (rmid_forced && ds.shm_nattch == 0)
      return unsupported("ipc namespace: {}: attached nowhere with kernel.shm_rmid_forced=1: a restore would destroy it",
                         what);
    ShmFile f = TRY_CTX(open_segment(id, ds.shm_segsz), "ipc namespace: {}", what);
    s->set_name_key(f.name_key);
    struct statfs fs {};
    if (::fstatfs(f.fd.get(), &fs) != 0) return sys_fail("ipc namespace: {}: fstatfs", what);
    if (fs.f_type != TMPFS_MAGIC)
      return unsupported("ipc namespace: {}: hugetlb (SHM_HUGETLB) segment: not supported yet", what);
    if (!image) continue;  // a scan for blockers: no content
    image::PageWriter pages = TRY(image::PageWriter::create(*image, image::sysv_shm_index_path(id),
                                                            image::sysv_shm_data_path(id)));
    TRY_CTX(copy_shmem_content(f.fd.get(), ds.shm_segsz, pages, buf), "ipc namespace: {}: content", what);
    TRY(pages.finish());
    s->set_pages_index(image::sysv_shm_index_path(id));
  }
  return {};
}

Status dump_sem(img::IpcNs& out) {
  seminfo info{};
  SemArg arg{};
  arg.info = &info;
  const int max = ::semctl(0, 0, SEM_INFO, arg);
  if (max < 0) return sys_fail("semctl(SEM_INFO)");
  for (int i = 0; i <= max; i++) {
    semid_ds ds{};
    arg.buf = &ds;
    const int id = ::semctl(i, 0, SEM_STAT_ANY, arg);
    if (id < 0 && errno == EINVAL) continue;
    if (id < 0) return sys_fail("semctl(SEM_STAT_ANY, {})", i);
    img::SysvSem* s = out.add_sem();
    get_perm(ds.sem_perm, id, *s->mutable_perm());
    std::vector<unsigned short> values(ds.sem_nsems);
    arg.array = values.data();
    if (::semctl(id, 0, GETALL, arg) != 0)
      return sys_fail("ipc namespace: SysV semaphore set key {} (id {}): GETALL", key_text(s->perm().key()), id);
    for (unsigned short v : values) s->add_values(v);
  }
  return {};
}

Status dump_msg(img::IpcNs& out) {
  msginfo info{};
  const int max = ::msgctl(0, MSG_INFO, reinterpret_cast<msqid_ds*>(&info));
  if (max < 0) return sys_fail("msgctl(MSG_INFO)");
  // MSG_COPY copies at most the namespace's msgmax bytes (prepare_copy).
  const int64_t msgmax = TRY(read_sysctl_int("msgmax"));
  std::vector<char> buf(sizeof(long) + static_cast<size_t>(std::max<int64_t>(msgmax, 1)));
  for (int i = 0; i <= max; i++) {
    msqid_ds ds{};
    const int id = ::msgctl(i, MSG_STAT_ANY, &ds);
    if (id < 0 && errno == EINVAL) continue;
    if (id < 0) return sys_fail("msgctl(MSG_STAT_ANY, {})", i);
    img::SysvMsgQueue* q = out.add_msg();
    get_perm(ds.msg_perm, id, *q->mutable_perm());
    q->set_qbytes(ds.msg_qbytes);
    const std::string what = fmt::format("SysV message queue key {} (id {}, {} messages)", key_text(q->perm().key()),
                                         id, ds.msg_qnum);
    for (msgqnum_t k = 0; k < ds.msg_qnum; k++) {
      // With MSG_COPY, msgtyp is the message's position; nothing is removed.
      ssize_t n = ::msgrcv(id, buf.data(), buf.size() - sizeof(long), static_cast<long>(k), MSG_COPY | IPC_NOWAIT);
      if (n < 0 && errno == E2BIG)
        return unsupported("ipc namespace: {}: message {} is longer than kernel.msgmax ({}): not supported", what, k,
                           msgmax);
      if (n < 0 && errno == ENOSYS)
        return unsupported("ipc namespace: {}: this kernel cannot read messages without removing them (MSG_COPY)", what);
      if (n < 0) return sys_fail("ipc namespace: {}: msgrcv(MSG_COPY) of message {}", what, k);
      img::SysvMsg* m = q->add_messages();
      long type = 0;
      std::memcpy(&type, buf.data(), sizeof type);
      m->set_type(type);
      m->set_text(std::string(buf.data() + sizeof(long), static_cast<size_t>(n)));
    }
  }
  return {};
}

// ---- restore ----

// Runs `fn` with the calling thread's effective uid/gid set to the creator's
// (raw syscalls: glibc's setresuid would change every thread of amber). The
// real and saved ids stay 0, so the permitted capabilities survive and come
// back into the effective set with euid 0.
template <class F>
auto as_creator(uint32_t cuid, uint32_t cgid, F&& fn) -> decltype(fn()) {
  const bool switch_ids = cuid != 0 || cgid != 0;
  if (switch_ids) {
    if (::syscall(SYS_setresgid, -1, cgid, -1) != 0) return sys_fail("setresgid(-1, {}, -1)", cgid);
    if (::syscall(SYS_setresuid, -1, cuid, -1) != 0) {
      int e = errno;
      (void)::syscall(SYS_setresgid, -1, 0, -1);
      return sys_fail_errno(e, "setresuid(-1, {}, -1)", cuid);
    }
  }
  auto r = fn();
  if (switch_ids) {
    // Back to root, or the thread cannot go on (it is ours, it ends soon).
    if (::syscall(SYS_setresuid, -1, 0, -1) != 0 || ::syscall(SYS_setresgid, -1, 0, -1) != 0)
      return sys_fail("back to euid 0");
  }
  return r;
}

Status set_next_id(const char* kind, int id) {
  return write_file(fmt::format("/proc/sys/kernel/{}_next_id", kind), std::to_string(id));
}

// The created object must have the image's id: the kernel takes next_id only
// if that index is free (else it silently picks another).
Status check_id(int got, int want, const std::string& what) {
  if (got < 0) return sys_fail("{}: create", what);
  if (got != want) return failf("{}: created with id {} instead", what, got);
  return {};
}

template <class Ds>
void put_perm(const img::IpcPerm& p, Ds& ds, ipc_perm Ds::*field) {
  (ds.*field).uid = p.uid();
  (ds.*field).gid = p.gid();
  (ds.*field).mode = static_cast<unsigned short>(p.mode() & 0777);
}

Status create_shm(const img::SysvShm& s, image::PageReader& pages, SysvHold& hold) {
  const img::IpcPerm& p = s.perm();
  const std::string what = fmt::format("SysV shm segment key {} (id {})", key_text(s.name_key()), p.id());
  TRY_CTX(set_next_id("shm", p.id()), "{}", what);
  const int key = s.removed() ? s.name_key() : p.key();
  const int id = TRY(as_creator(p.cuid(), p.cgid(), [&]() -> Result<int> {
    return ::shmget(key, s.size(), IPC_CREAT | IPC_EXCL | 0600);
  }));
  TRY(check_id(id, p.id(), what));
  void* at = ::shmat(id, nullptr, 0);
  if (at == reinterpret_cast<void*>(-1)) return sys_fail("{}: shmat", what);
  const uint64_t a = reinterpret_cast<uint64_t>(at);
  auto fd = open_fd(fmt::format("/proc/self/map_files/{:x}-{:x}", a, a + page_up(s.size())), O_RDWR | O_CLOEXEC);
  Status st = fd ? write_shmem_content(fd->get(), s.size(), pages) : Status(std::unexpected(std::move(fd.error())));
  if (!st) {
    ::shmdt(at);
    return std::unexpected(std::move(st.error()).wrap(what + ": content"));
  }
  if (s.removed()) hold.keep(at);
  else ::shmdt(at);
  shmid_ds ds{};
  put_perm(p, ds, &shmid_ds::shm_perm);
  if (::shmctl(id, IPC_SET, &ds) != 0) return sys_fail("{}: IPC_SET owner {}:{} mode {:o}", what, p.uid(), p.gid(), p.mode());
  if (s.locked() && ::shmctl(id, SHM_LOCK, nullptr) != 0) return sys_fail("{}: SHM_LOCK", what);
  if (s.removed() && ::shmctl(id, IPC_RMID, nullptr) != 0) return sys_fail("{}: IPC_RMID", what);
  return {};
}

Status create_sem(const img::SysvSem& s) {
  const img::IpcPerm& p = s.perm();
  const std::string what = fmt::format("SysV semaphore set key {} (id {})", key_text(p.key()), p.id());
  TRY_CTX(set_next_id("sem", p.id()), "{}", what);
  const int id = TRY(as_creator(p.cuid(), p.cgid(), [&]() -> Result<int> {
    return ::semget(p.key(), s.values_size(), IPC_CREAT | IPC_EXCL | 0600);
  }));
  TRY(check_id(id, p.id(), what));
  std::vector<unsigned short> values(s.values().begin(), s.values().end());
  SemArg arg{};
  arg.array = values.data();
  if (::semctl(id, 0, SETALL, arg) != 0) return sys_fail("{}: SETALL", what);
  semid_ds ds{};
  put_perm(p, ds, &semid_ds::sem_perm);
  arg.buf = &ds;
  if (::semctl(id, 0, IPC_SET, arg) != 0) return sys_fail("{}: IPC_SET", what);
  return {};
}

// What a queue needs while its messages are sent again: msg_fits_inqueue
// wants cbytes + size <= qbytes and qnum + 1 <= qbytes, and the dumped
// qbytes may have been lowered below what the queue held.
uint64_t filling_qbytes(const img::SysvMsgQueue& q) {
  uint64_t bytes = 0;
  for (const img::SysvMsg& m : q.messages()) bytes += m.text().size();
  return std::max<uint64_t>({q.qbytes(), bytes, static_cast<uint64_t>(q.messages_size())});
}

Status create_msg(const img::SysvMsgQueue& q) {
  const img::IpcPerm& p = q.perm();
  const std::string what = fmt::format("SysV message queue key {} (id {})", key_text(p.key()), p.id());
  TRY_CTX(set_next_id("msg", p.id()), "{}", what);
  const int id = TRY(as_creator(p.cuid(), p.cgid(), [&]() -> Result<int> {
    return ::msgget(p.key(), IPC_CREAT | IPC_EXCL | 0600);
  }));
  TRY(check_id(id, p.id(), what));
  msqid_ds ds{};
  put_perm(p, ds, &msqid_ds::msg_perm);
  ds.msg_qbytes = filling_qbytes(q);
  if (::msgctl(id, IPC_SET, &ds) != 0) return sys_fail("{}: IPC_SET qbytes {}", what, ds.msg_qbytes);
  std::vector<char> buf;
  for (int k = 0; k < q.messages_size(); k++) {
    const img::SysvMsg& m = q.messages(k);
    buf.resize(sizeof(long) + m.text().size());
    long type = m.type();
    std::memcpy(buf.data(), &type, sizeof type);
    std::memcpy(buf.data() + sizeof(long), m.text().data(), m.text().size());
    if (::msgsnd(id, buf.data(), m.text().size(), IPC_NOWAIT) != 0) return sys_fail("{}: msgsnd message {}", what, k);
  }
  ds.msg_qbytes = q.qbytes();
  if (::msgctl(id, IPC_SET, &ds) != 0) return sys_fail("{}: IPC_SET qbytes {}", what, ds.msg_qbytes);
  return {};
}

// msgget/msgsnd/IPC_SET bound by the namespace's msgmax and msgmnb (raising
// qbytes above msgmnb needs CAP_SYS_RESOURCE, which amber may not have): raised
// here as far as the queues need; the sysctls of the image are written after.
Status raise_msg_limits(const img::IpcNs& ipc) {
  uint64_t need_max = 0, need_mnb = 0;
  for (const img::SysvMsgQueue& q : ipc.msg()) {
    need_mnb = std::max(need_mnb, filling_qbytes(q));
    for (const img::SysvMsg& m : q.messages()) need_max = std::max<uint64_t>(need_max, m.text().size());
  }
  for (auto [name, need] : {std::pair{"msgmax", need_max}, std::pair{"msgmnb", need_mnb}}) {
    const int64_t now = TRY(read_sysctl_int(name));
    if (static_cast<uint64_t>(now) < need)
      TRY_CTX(write_file(fmt::format("/proc/sys/kernel/{}", name), std::to_string(need)), "raise kernel.{}", name);
  }
  return {};
}

Status check_perm(const img::IpcPerm& want, const ipc_perm& have, bool key_too, const std::string& what) {
  if (key_too && have.__key != want.key()) return failf("{}: key {} after the restore", what, key_text(have.__key));
  if (have.uid != want.uid() || have.gid != want.gid() || (have.mode & 0777) != want.mode())
    return failf("{}: owner {}:{} mode {:o} after the restore, the image has {}:{} {:o}", what, have.uid, have.gid,
                 have.mode & 0777, want.uid(), want.gid(), want.mode());
  if (have.cuid != want.cuid() || have.cgid != want.cgid())
    return failf("{}: creator {}:{} after the restore, the image has {}:{}", what, have.cuid, have.cgid, want.cuid(),
                 want.cgid());
  return {};
}

}  // namespace

// ---- dump ----

Status dump_sysv(img::IpcNs& out, image::ImageWriter* image) {
  const bool rmid_forced = TRY(read_sysctl_int("shm_rmid_forced")) != 0;
  TRY(dump_shm(out, image, rmid_forced));
  TRY(dump_sem(out));
  TRY(dump_msg(out));
  return {};
}

// ---- restore ----

Status validate_sysv(const img::IpcNs& ipc) {
  auto check = [](std::set<int>& ids, const img::IpcPerm& p, const char* kind) -> Status {
    if (p.id() < 0 || !ids.insert(p.id()).second) return bad_input("ipc namespace: {} id {} is invalid or listed twice", kind, p.id());
    if (p.mode() & ~0777u) return bad_input("ipc namespace: {} id {}: mode {:o}", kind, p.id(), p.mode());
    return {};
  };
  std::set<int> shm, sem, msg;
  std::set<int> keys;
  for (const img::SysvShm& s : ipc.shm()) {
    TRY(check(shm, s.perm(), "SysV shm segment"));
    if (s.size() == 0) return bad_input("ipc namespace: SysV shm segment id {} of 0 bytes", s.perm().id());
    if (s.removed() ? s.perm().key() != IPC_PRIVATE : s.perm().key() != s.name_key())
      return bad_input("ipc namespace: SysV shm segment id {}: key {} and name key {} disagree", s.perm().id(),
                       key_text(s.perm().key()), key_text(s.name_key()));
    if (s.removed() && s.nattch() == 0)
      return bad_input("ipc namespace: SysV shm segment id {} is removed and attached nowhere", s.perm().id());
    if (!s.removed() && s.perm().key() != IPC_PRIVATE && !keys.insert(s.perm().key()).second)
      return bad_input("ipc namespace: SysV shm key {} is listed twice", key_text(s.perm().key()));
  }
  keys.clear();
  for (const img::SysvSem& s : ipc.sem()) {
    TRY(check(sem, s.perm(), "SysV semaphore set"));
    if (s.values_size() == 0) return bad_input("ipc namespace: SysV semaphore set id {} is empty", s.perm().id());
    for (uint32_t v : s.values())
      if (v > kSemVmx) return bad_input("ipc namespace: SysV semaphore set id {}: value {}", s.perm().id(), v);
    std::set<int> undo_pids;
    for (const img::SemUndo& u : s.undo()) {
      if (!undo_pids.insert(u.pid()).second || u.adj_size() != s.values_size())
        return bad_input("ipc namespace: SysV semaphore set id {}: SEM_UNDO adjustments of task {} listed twice or "
                         "not one per semaphore",
                         s.perm().id(), u.pid());
      bool any = false;
      for (int32_t a : u.adj()) {
        if (a < kAdjMin || a > kAdjMax)
          return bad_input("ipc namespace: SysV semaphore set id {}: SEM_UNDO adjustment {} of task {}", s.perm().id(),
                           a, u.pid());
        any |= a != 0;
      }
      if (!any)
        return bad_input("ipc namespace: SysV semaphore set id {}: SEM_UNDO adjustments of task {} are all 0",
                         s.perm().id(), u.pid());
    }
    if (s.perm().key() != IPC_PRIVATE && !keys.insert(s.perm().key()).second)
      return bad_input("ipc namespace: SysV semaphore key {} is listed twice", key_text(s.perm().key()));
  }
  keys.clear();
  for (const img::SysvMsgQueue& q : ipc.msg()) {
    TRY(check(msg, q.perm(), "SysV message queue"));
    for (const img::SysvMsg& m : q.messages())
      if (m.type() <= 0) return bad_input("ipc namespace: SysV message queue id {}: message type {}", q.perm().id(), m.type());
    if (q.perm().key() != IPC_PRIVATE && !keys.insert(q.perm().key()).second)
      return bad_input("ipc namespace: SysV message queue key {} is listed twice", key_text(q.perm().key()));
  }
  return {};
}

Result<std::vector<image::PageReader>> read_sysv_pages(const image::ImageReader& image, const img::IpcNs& ipc) {
  std::vector<image::PageReader> out;
  for (const img::SysvShm& s : ipc.shm()) {
    const std::string what = fmt::format("ipc namespace: SysV shm segment id {}", s.perm().id());
    if (s.pages_index() != image::sysv_shm_index_path(s.perm().id()))
      return bad_input("{}: content index '{}' is not its own", what, s.pages_index());
    image::PageReader pages = TRY_CTX(image::PageReader::open(image, s.pages_index()), "{}", what);
    TRY_CTX(pages.validate_size(), "{}", what);
    for (const img::PageRun& r : pages.index().runs())
      if (r.vaddr() + r.nr_pages() * kPage > page_up(s.size()))
        return bad_input("{}: content at {:#x} beyond its size {}", what, r.vaddr(), s.size());
    out.push_back(std::move(pages));
  }
  return out;
}

std::map<uint64_t, uint64_t> sysv_shm_sizes(const img::IpcNs& ipc) {
  std::map<uint64_t, uint64_t> out;
  for (const img::SysvShm& s : ipc.shm()) out[static_cast<uint64_t>(s.perm().id())] = s.size();
  return out;
}

Status check_sysv_refs(const std::map<uint64_t, uint64_t>& sizes, const img::Mm& mm, pid_t vpid) {
  for (const img::VmArea& a : mm.areas()) {
    if (!(a.flags() & img::VMA_SYSVSHM)) continue;
    auto it = sizes.find(a.inode());
    if (it == sizes.end())
      return bad_input("task {}: area {:x}-{:x} attaches SysV shm id {}, which the image does not have", vpid, a.start(),
                       a.end(), a.inode());
    if (a.start() < a.offset() || a.offset() % kPage || a.offset() + (a.end() - a.start()) > page_up(it->second))
      return bad_input("task {}: area {:x}-{:x} lies beyond SysV shm id {} of {} bytes", vpid, a.start(), a.end(),
                       a.inode(), it->second);
  }
  return {};
}

Status SysvHold::release() {
  Status st;
  for (void* a : addrs_)
    if (::shmdt(a) != 0 && st) st = sys_fail("shmdt of a removed SysV shm segment at {}", a);
  addrs_.clear();
  return st;
}

Status create_sysv(const img::IpcNs& ipc, std::vector<image::PageReader>& pages, SysvHold& hold) {
  // Removed segments first: a live one may carry the key they were made with.
  for (bool removed : {true, false})
    for (int i = 0; i < ipc.shm_size(); i++)
      if (ipc.shm(i).removed() == removed)
        TRY_CTX(create_shm(ipc.shm(i), pages.at(static_cast<size_t>(i)), hold), "ipc namespace");
  for (const img::SysvSem& s : ipc.sem()) TRY_CTX(create_sem(s), "ipc namespace");
  if (ipc.msg_size() > 0) TRY_CTX(raise_msg_limits(ipc), "ipc namespace");
  for (const img::SysvMsgQueue& q : ipc.msg()) TRY_CTX(create_msg(q), "ipc namespace");
  return {};
}

Status verify_sysv(const img::IpcNs& ipc) {
  shm_info si{};
  if (::shmctl(0, SHM_INFO, reinterpret_cast<shmid_ds*>(&si)) < 0) return sys_fail("shmctl(SHM_INFO)");
  if (si.used_ids != ipc.shm_size())
    return failf("ipc namespace: {} SysV shm segments after the restore, the image has {}", si.used_ids, ipc.shm_size());
  for (const img::SysvShm& s : ipc.shm()) {
    const std::string what = fmt::format("ipc namespace: SysV shm segment id {}", s.perm().id());
    shmid_ds ds{};
    if (::shmctl(s.perm().id(), IPC_STAT, &ds) != 0) return sys_fail("{}: IPC_STAT after the restore", what);
    TRY(check_perm(s.perm(), ds.shm_perm, true, what));
    if (ds.shm_segsz != s.size()) return failf("{}: {} bytes after the restore, the image has {}", what, ds.shm_segsz, s.size());
    if (ds.shm_nattch != s.nattch())
      return failf("{}: attached {} times after the restore, the image has {}", what, ds.shm_nattch, s.nattch());
    if (bool(ds.shm_perm.mode & SHM_DEST) != s.removed() || bool(ds.shm_perm.mode & SHM_LOCKED) != s.locked())
      return failf("{}: state {:o} after the restore", what, ds.shm_perm.mode);
  }
  seminfo sinfo{};
  SemArg arg{};
  arg.info = &sinfo;
  if (::semctl(0, 0, SEM_INFO, arg) < 0) return sys_fail("semctl(SEM_INFO)");
  if (sinfo.semusz != ipc.sem_size())
    return failf("ipc namespace: {} SysV semaphore sets after the restore, the image has {}", sinfo.semusz, ipc.sem_size());
  for (const img::SysvSem& s : ipc.sem()) {
    const std::string what = fmt::format("ipc namespace: SysV semaphore set id {}", s.perm().id());
    semid_ds ds{};
    arg.buf = &ds;
    if (::semctl(s.perm().id(), 0, IPC_STAT, arg) != 0) return sys_fail("{}: IPC_STAT after the restore", what);
    TRY(check_perm(s.perm(), ds.sem_perm, true, what));
    if (ds.sem_nsems != static_cast<unsigned long>(s.values_size()))
      return failf("{}: {} semaphores after the restore, the image has {}", what, ds.sem_nsems, s.values_size());
    std::vector<unsigned short> values(ds.sem_nsems);
    arg.array = values.data();
    if (::semctl(s.perm().id(), 0, GETALL, arg) != 0) return sys_fail("{}: GETALL", what);
    for (int k = 0; k < s.values_size(); k++)
      if (values[static_cast<size_t>(k)] != s.values(k))
        return failf("{}: semaphore {} is {} after the restore, the image has {}", what, k, values[static_cast<size_t>(k)],
                     s.values(k));
  }
  msginfo minfo{};
  if (::msgctl(0, MSG_INFO, reinterpret_cast<msqid_ds*>(&minfo)) < 0) return sys_fail("msgctl(MSG_INFO)");
  if (minfo.msgpool != ipc.msg_size())
    return failf("ipc namespace: {} SysV message queues after the restore, the image has {}", minfo.msgpool, ipc.msg_size());
  for (const img::SysvMsgQueue& q : ipc.msg()) {
    const std::string what = fmt::format("ipc namespace: SysV message queue id {}", q.perm().id());
    msqid_ds ds{};
    if (::msgctl(q.perm().id(), IPC_STAT, &ds) != 0) return sys_fail("{}: IPC_STAT after the restore", what);
    TRY(check_perm(q.perm(), ds.msg_perm, true, what));
    uint64_t bytes = 0;
    for (const img::SysvMsg& m : q.messages()) bytes += m.text().size();
    if (ds.msg_qnum != static_cast<msgqnum_t>(q.messages_size()) || ds.__msg_cbytes != bytes || ds.msg_qbytes != q.qbytes())
      return failf("{}: {} messages of {} bytes (qbytes {}) after the restore, the image has {} of {} ({})", what,
                   ds.msg_qnum, ds.__msg_cbytes, ds.msg_qbytes, q.messages_size(), bytes, q.qbytes());
  }
  return {};
}

}  // namespace amber::kinds
