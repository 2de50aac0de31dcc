// Helpers shared by the image tests: a scratch directory and sample messages
// with every field family filled, so round trips compare something real.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <google/protobuf/util/message_differencer.h>

#include "base/files.h"
#include "image/layout.h"
#include "image/pages.h"
#include "image/writer.h"
#include "container.pb.h"
#include "files.pb.h"
#include "mm.pb.h"
#include "task.pb.h"
#include "test_key.h"

namespace amber::image::testing {

// A fresh directory under $TMPDIR (or /tmp), removed afterwards.
class ScratchDir : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/amber-image-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << strerror(errno);
    root_ = tmpl;
  }
  void TearDown() override { (void)remove_tree(root_); }
  std::string path(const std::string& rel) const { return root_ + "/" + rel; }

  std::string root_;
};

inline bool same(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

inline off_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

// Overwrites one byte of `path` at `offset` with its complement.
inline void flip_byte(const std::string& path, off_t offset) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path;
  unsigned char c = 0;
  ASSERT_EQ(::pread(fd, &c, 1, offset), 1);
  c = static_cast<unsigned char>(~c);
  ASSERT_EQ(::pwrite(fd, &c, 1, offset), 1);
  ::close(fd);
}

inline void truncate_by(const std::string& path, off_t bytes) {
  off_t size = file_size(path);
  ASSERT_GE(size, bytes);
  ASSERT_EQ(::truncate(path.c_str(), size - bytes), 0);
}

inline img::Container sample_container() {
  img::Container c;
  c.set_name("web");
  c.add_command("/bin/sh");
  c.add_command("-c");
  c.add_command("sleep 1000");
  c.set_cgroup("/sys/fs/cgroup/unified/amber/web");
  auto* ns = c.mutable_namespaces();
  ns->mutable_uts()->set_hostname("web-host");
  ns->mutable_uts()->set_domainname("example");
  ns->mutable_pid()->set_inode(4026532001);
  ns->mutable_ipc()->set_inode(4026532002);
  ns->mutable_net()->set_inode(4026532003);
  ns->mutable_net()->set_external(true);
  ns->mutable_mnt()->set_inode(4026532004);
  ns->mutable_cgroup()->set_inode(4026532005);
  ns->mutable_user()->set_inode(4026531837);
  ns->mutable_time()->set_inode(4026531834);
  auto* m = ns->add_mounts();
  m->set_mount_id(100);
  m->set_parent_id(99);
  m->set_dev(0x801);
  m->set_root("/");
  m->set_mountpoint("/");
  m->set_fstype("ext4");
  m->set_source("/dev/vda1");
  m->set_mount_options("rw,relatime");
  m->set_super_options("rw,errors=remount-ro");
  m->set_external_bind(true);
  auto* p = ns->add_mounts();
  p->set_mount_id(101);
  p->set_parent_id(100);
  p->set_mountpoint("/proc");
  p->set_fstype("proc");
  p->set_source("proc");
  c.mutable_tree()->set_init_pid(1);
  auto* t1 = c.mutable_tree()->add_tasks();
  t1->set_pid(1);
  auto* t2 = c.mutable_tree()->add_tasks();
  t2->set_pid(7);
  t2->set_ppid(1);
  auto* u = c.add_unsupported();
  u->set_what("sysv msg queue 3");
  u->set_reason("not implemented yet");
  return c;
}

inline img::Task sample_task(int32_t pid, int32_t ppid) {
  img::Task t;
  t.set_pid(pid);
  t.set_ppid(ppid);
  t.set_pgid(1);
  t.set_sid(1);
  t.set_comm(pid == 1 ? "sh" : "sleep");
  t.set_cwd("/srv/\xff\xfe-not-utf8");  // names are raw bytes
  t.set_root("/");
  t.set_umask(022);
  for (int i = 0; i < 2; i++) {
    auto* th = t.add_threads();
    th->set_tid(pid + i);
    th->set_comm(i ? "worker" : t.comm());
    th->set_regs(std::string(216, static_cast<char>(0x11 + i)));
    th->set_xstate(std::string(2432, static_cast<char>(0x22 + i)));
    th->set_blocked(1ull << (SIGUSR1 - 1));
    th->mutable_rseq()->set_ptr(0x7f0000001000 + i * 0x1000);
    th->mutable_rseq()->set_len(32);
    th->mutable_rseq()->set_sig(0x53053053);
    th->mutable_syscall()->set_in_syscall(true);
    th->mutable_syscall()->set_nr(35);
    th->mutable_syscall()->set_ret(-516);
  }
  auto* sa = t.add_sigactions();
  sa->set_signo(SIGTERM);
  sa->set_handler(0x401234);
  sa->set_flags(0x04000000);
  sa->set_restorer(0x401000);
  sa->set_mask(1ull << (SIGINT - 1));
  auto* ig = t.add_sigactions();
  ig->set_signo(SIGPIPE);
  ig->set_handler(1);
  auto* rl = t.add_rlimits();
  rl->set_resource(7);
  rl->set_cur(1024);
  rl->set_max(4096);
  auto* u = t.add_unsupported();
  u->set_what("timer 3");
  u->set_reason("posix timer with SIGEV_THREAD_ID");
  u->set_raw("raw");
  return t;
}

inline img::Mm sample_mm(const std::string& pages_index) {
  img::Mm mm;
  mm.set_start_code(0x400000);
  mm.set_end_code(0x401000);
  mm.set_start_data(0x402000);
  mm.set_end_data(0x403000);
  mm.set_start_brk(0x404000);
  mm.set_brk(0x405000);
  mm.set_start_stack(0x7ffffff0000);
  mm.set_arg_start(0x7ffffff1000);
  mm.set_arg_end(0x7ffffff1010);
  mm.set_env_start(0x7ffffff1010);
  mm.set_env_end(0x7ffffff1100);
  mm.set_auxv(std::string(64, '\x05'));
  mm.set_exe_path("/bin/sh");
  mm.set_pages_index(pages_index);
  auto add = [&](uint64_t s, uint64_t e, uint32_t prot, uint32_t flags, std::string path, std::string name) {
    auto* a = mm.add_areas();
    a->set_start(s);
    a->set_end(e);
    a->set_prot(prot);
    a->set_flags(flags);
    a->set_path(path);
    a->set_name(name);
    if (!path.empty()) {
      a->set_dev(0x801);
      a->set_inode(1234);
      a->set_offset(0x1000);
    }
    a->set_pages_in_store(!path.empty() ? false : true);
    return a;
  };
  add(0x400000, 0x401000, 5, img::VMA_PRIVATE | img::VMA_FILE, "/bin/sh", "");
  add(0x404000, 0x405000, 3, img::VMA_PRIVATE | img::VMA_ANON, "", "[heap]");
  add(0x7ffffff0000, 0x7ffffff2000, 3, img::VMA_PRIVATE | img::VMA_ANON | img::VMA_GROWSDOWN, "", "[stack]");
  auto* v = add(0x7fffffff0000, 0x7fffffff2000, 5, img::VMA_PRIVATE | img::VMA_VDSO, "", "[vdso]");
  v->set_pages_in_store(false);
  auto* bad = add(0x7fffffff4000, 0x7fffffff5000, 0, img::VMA_SHARED | img::VMA_UNSUPPORTED, "", "[secretmem]");
  bad->set_pages_in_store(false);
  bad->mutable_unsupported()->set_what("area 0x7fffffff4000");
  bad->mutable_unsupported()->set_reason("memfd_secret");
  return mm;
}

inline img::Files sample_files() {
  img::Files f;
  auto add = [&](int fd, img::FdKind kind, std::string path, uint64_t ofd) {
    auto* d = f.add_fds();
    d->set_fd(fd);
    d->set_kind(kind);
    d->set_path(path);
    d->set_flags(O_RDWR);
    d->set_pos(fd * 10);
    d->set_cloexec(fd == 3);
    d->set_ofd_id(ofd);
    return d;
  };
  add(0, img::FD_CHARDEV, "/dev/null", 1);
  add(1, img::FD_REGULAR, "/run/amber/web/log", 2);
  add(2, img::FD_REGULAR, "/run/amber/web/log", 2);  // same description as fd 1
  auto* u = add(3, img::FD_UNSUPPORTED, "anon_inode:[io_uring]", 3);
  u->mutable_unsupported()->set_what("fd 3");
  u->mutable_unsupported()->set_reason("io_uring instance");
  return f;
}

// A complete small image: container, two tasks (task 7 shares task 1's fd
// table), memory with 4 stored pages in 2 runs, fds.
inline void write_sample_image(const std::string& dir) {
  auto w = ImageWriter::create(dir, test_key());
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_TRUE(w->write(container_path(), img::KIND_CONTAINER, sample_container()));
  ASSERT_TRUE(w->write(task_path(1), img::KIND_TASK, sample_task(1, 0)));
  img::Task t7 = sample_task(7, 1);
  t7.set_files_shared_with(1);
  ASSERT_TRUE(w->write(task_path(7), img::KIND_TASK, t7));
  ASSERT_TRUE(w->write(mm_path(1), img::KIND_MM, sample_mm(pages_index_path(1))));
  ASSERT_TRUE(w->write(mm_path(7), img::KIND_MM, sample_mm("")));
  ASSERT_TRUE(w->write(files_path(1), img::KIND_FILES, sample_files()));
  auto pw = PageWriter::create(*w, pages_index_path(1), pages_data_path(1));
  ASSERT_TRUE(pw) << pw.error().message;
  std::vector<std::byte> page(3 * kPageSize, std::byte{0x5a});
  ASSERT_TRUE(pw->append(0x404000, std::span(page).first(kPageSize)));  // [heap]
  ASSERT_TRUE(pw->append(0x7ffffff0000, page));  // [stack] (2 pages) and one past it
  ASSERT_TRUE(pw->finish());
  auto c = w->commit();
  ASSERT_TRUE(c) << c.error().message;
}

}  // namespace amber::image::testing
