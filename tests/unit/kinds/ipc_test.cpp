#include <gtest/gtest.h>
#include <sched.h>
#include <sys/ipc.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <cstring>
#include <sys/wait.h>
#include <unistd.h>

#include "base/files.h"
#include "container.pb.h"
#include "image/auth.h"
#include "test_key.h"
#include "image/layout.h"
#include "image/reader.h"
#include "image/writer.h"
#include "kinds/ns/ipc.h"
#include "sys/ns_thread.h"

using namespace amber;

namespace {

std::string sysctl(const img::IpcNs& ipc, std::string_view name) {
  for (const auto& s : ipc.sysctls())
    if (s.name() == name) return s.value();
  return "(missing)";
}

}  // namespace

// A process in an ipc namespace of its own, parked until told to exit.
struct NsChild {
  pid_t pid = -1;
  int go[2] = {-1, -1};
  ~NsChild() {
    if (pid > 0) {
      char c = 1;
      (void)!write(go[1], &c, 1);
      int st;
      waitpid(pid, &st, 0);
    }
  }
};

// setup() runs in the child after unshare(CLONE_NEWIPC); false: it failed.
template <class F>
bool start_ns_child(NsChild& c, F setup) {
  int ready[2];
  if (pipe(ready) != 0 || pipe(c.go) != 0) return false;
  c.pid = fork();
  if (c.pid == 0) {
    char ok = unshare(CLONE_NEWIPC) == 0 && setup() ? 1 : 0;
    (void)!write(ready[1], &ok, 1);
    (void)!read(c.go[0], &ok, 1);
    _exit(0);
  }
  char ok = 0;
  return read(ready[0], &ok, 1) == 1 && ok == 1;
}

class IpcImage : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/amber-ipc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    image_ = root_ + "/img";
  }
  void TearDown() override {
    if (!root_.empty()) (void)remove_tree(root_);
  }
  std::string root_, image_;
};

struct Msg {
  long type;
  char text[64];
};

TEST_F(IpcImage, SysvObjectsRoundTripWithIdsAndState) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (unshare CLONE_NEWIPC)";
  NsChild src;
  ASSERT_TRUE(start_ns_child(src, [] {
    if (!write_file("/proc/sys/kernel/msgmax", "4321") || !write_file("/proc/sys/kernel/msg_next_id", "77")) return false;
    int q = msgget(0x4242, IPC_CREAT | 0620);
    if (q != 77) return false;
    for (int i = 0; i < 5; i++) {
      Msg m{10 + i, {}};
      snprintf(m.text, sizeof m.text, "message %d", i);
      if (msgsnd(q, &m, strlen(m.text) + 1, 0) != 0) return false;
    }
    if (!write_file("/proc/sys/kernel/sem_next_id", "9")) return false;
    int s = semget(0x4343, 2, IPC_CREAT | 0600);
    unsigned short v[2] = {5, 9};
    if (s != 9 || semctl(s, 0, SETALL, v) != 0) return false;
    int shm = shmget(0x4444, 10000, IPC_CREAT | 0644);
    void* p = shmat(shm, nullptr, 0);
    if (p == reinterpret_cast<void*>(-1)) return false;
    memset(static_cast<char*>(p) + 5000, 0x7e, 3000);
    if (shmdt(p) != 0) return false;
    mq_attr attr{};
    attr.mq_maxmsg = 5;
    attr.mq_msgsize = 32;
    mqd_t mq = mq_open("/unit_q", O_CREAT | O_RDWR, 0640, &attr);
    if (mq < 0) return false;
    const unsigned prios[] = {1, 4, 1, 4};
    for (int i = 0; i < 4; i++) {
      char t[16];
      int n = snprintf(t, sizeof t, "m%d", i);
      if (mq_send(mq, t, static_cast<size_t>(n), prios[i]) != 0) return false;
    }
    return mq_close(mq) == 0;
  }));
  {
    auto w = image::ImageWriter::create(image_, image::test_key());
    ASSERT_TRUE(w) << w.error().message;
    auto ipc = kinds::dump_ipc(src.pid, &*w);
    ASSERT_TRUE(ipc) << ipc.error().message;
    EXPECT_EQ(sysctl(*ipc, "kernel/msgmax"), "4321");
    EXPECT_EQ(sysctl(*ipc, "kernel/msg_next_id"), "-1");  // taken by the msgget
    EXPECT_EQ(ipc->sysctls(ipc->sysctls_size() - 1).name(), "kernel/shm_next_id");  // the next ids last
    EXPECT_NE(read_file("/proc/sys/kernel/msgmax").value_or(""), "4321\n");  // ours is untouched
    ASSERT_EQ(ipc->msg_size(), 1);
    EXPECT_EQ(ipc->msg(0).perm().id(), 77);
    EXPECT_EQ(ipc->msg(0).perm().key(), 0x4242);
    EXPECT_EQ(ipc->msg(0).perm().mode(), 0620u);
    ASSERT_EQ(ipc->msg(0).messages_size(), 5);
    EXPECT_EQ(ipc->msg(0).messages(3).type(), 13);
    EXPECT_EQ(ipc->msg(0).messages(3).text(), std::string("message 3", 10));
    ASSERT_EQ(ipc->sem_size(), 1);
    EXPECT_EQ(ipc->sem(0).perm().id(), 9);
    ASSERT_EQ(ipc->sem(0).values_size(), 2);
    EXPECT_EQ(ipc->sem(0).values(1), 9u);
    ASSERT_EQ(ipc->shm_size(), 1);
    EXPECT_EQ(ipc->shm(0).size(), 10000u);
    EXPECT_EQ(ipc->shm(0).name_key(), 0x4444);
    EXPECT_FALSE(ipc->shm(0).removed());
    ASSERT_EQ(ipc->mqueues_size(), 1);
    EXPECT_EQ(ipc->mqueues(0).name(), "unit_q");
    EXPECT_EQ(ipc->mqueues(0).mode(), 0640u);
    EXPECT_EQ(ipc->mqueues(0).maxmsg(), 5);
    ASSERT_EQ(ipc->mqueues(0).messages_size(), 4);
    // Receive order: priority 4 first (m1, m3), then 1 (m0, m2).
    EXPECT_EQ(ipc->mqueues(0).messages(0).data(), "m1");
    EXPECT_EQ(ipc->mqueues(0).messages(1).data(), "m3");
    EXPECT_EQ(ipc->mqueues(0).messages(2).data(), "m0");
    EXPECT_EQ(ipc->mqueues(0).messages(2).priority(), 1u);
    // Read without consuming: the source queue still holds all five.
    ASSERT_TRUE(kinds::verify_ipc(src.pid, *ipc)) << "the source namespace is unchanged";
    img::Container c;
    *c.mutable_namespaces()->mutable_ipc_ns() = *ipc;
    ASSERT_TRUE(w->write(image::container_path(), img::KIND_CONTAINER, c));
    ASSERT_TRUE(w->commit());
  }
  auto r = image::ImageReader::open(image_, image::test_key());
  ASSERT_TRUE(r) << r.error().message;
  auto c = r->read<img::Container>(image::container_path(), img::KIND_CONTAINER);
  ASSERT_TRUE(c);
  const img::IpcNs& ipc = c->namespaces().ipc_ns();
  ASSERT_TRUE(kinds::validate_ipc(ipc));
  auto pages = kinds::read_sysv_pages(*r, ipc);
  ASSERT_TRUE(pages) << pages.error().message;

  NsChild dst;
  ASSERT_TRUE(start_ns_child(dst, [] { return true; }));
  kinds::SysvHold hold;
  auto made = kinds::create_ipc_objects(dst.pid, ipc, *pages, hold);
  ASSERT_TRUE(made) << made.error().message;
  // The POSIX queues are the restored init's to make (before it forks).
  {
    UniqueFd ns(open(fmt::format("/proc/{}/ns/ipc", dst.pid).c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(ns);
    auto mq = sys::in_namespace(ns.get(), CLONE_NEWIPC, [&] { return kinds::create_ipc_mqueues(ipc); });
    ASSERT_TRUE(mq) << mq.error().message;
  }
  auto set = kinds::restore_ipc_sysctls(dst.pid, ipc);
  ASSERT_TRUE(set) << set.error().message;
  auto ok = kinds::verify_ipc(dst.pid, ipc);
  EXPECT_TRUE(ok) << ok.error().message;
  // The content and the messages as a process of the namespace reads them.
  char nsfile[64];
  snprintf(nsfile, sizeof nsfile, "/proc/%d/ns/ipc", dst.pid);
  pid_t p = fork();
  if (p == 0) {
    int ns = open(nsfile, O_RDONLY);
    if (ns < 0 || setns(ns, CLONE_NEWIPC) != 0) _exit(1);
    int id = shmget(0x4444, 0, 0);
    char* at = static_cast<char*>(shmat(id, nullptr, SHM_RDONLY));
    if (at == reinterpret_cast<char*>(-1) || at[4999] != 0 || at[5000] != 0x7e || at[7999] != 0x7e || at[8000] != 0)
      _exit(2);
    Msg m{};
    for (int i = 0; i < 5; i++) {
      char want[64];
      snprintf(want, sizeof want, "message %d", i);
      if (msgrcv(77, &m, sizeof m.text, 0, IPC_NOWAIT) < 0 || m.type != 10 + i || strcmp(m.text, want) != 0) _exit(3);
    }
    unsigned short v[2];
    if (semctl(9, 0, GETALL, v) != 0 || v[0] != 5 || v[1] != 9) _exit(4);
    mqd_t mq = mq_open("/unit_q", O_RDONLY | O_NONBLOCK);
    const char* order[] = {"m1", "m3", "m0", "m2"};
    for (const char* want : order) {
      char buf[32] = {};
      if (mq < 0 || mq_receive(mq, buf, sizeof buf, nullptr) != 2 || strcmp(buf, want) != 0) _exit(5);
    }
    _exit(0);
  }
  int st = 0;
  ASSERT_EQ(waitpid(p, &st, 0), p);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "reader status " << st;
}

TEST(Ipc, ValidateRefusesInconsistentSysvObjects) {
  img::IpcNs ipc;
  auto* q = ipc.add_msg();
  q->mutable_perm()->set_id(3);
  q->mutable_perm()->set_key(0x10);
  EXPECT_TRUE(kinds::validate_ipc(ipc));
  auto* q2 = ipc.add_msg();
  q2->mutable_perm()->set_id(3);  // twice
  auto r = kinds::validate_ipc(ipc);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::BadInput);
  ipc.clear_msg();
  auto* s = ipc.add_sem();
  s->mutable_perm()->set_id(1);
  s->add_values(40000);  // above SEMVMX
  r = kinds::validate_ipc(ipc);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("value 40000"), std::string::npos) << r.error().message;
  ipc.clear_sem();
  auto* shm = ipc.add_shm();
  shm->mutable_perm()->set_id(1);
  shm->set_size(4096);
  shm->set_removed(true);  // removed and attached nowhere: cannot exist
  shm->set_name_key(5);
  r = kinds::validate_ipc(ipc);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::BadInput);
}

TEST(Ipc, ValidateRefusesSysctlsOutsideTheIpcNamespace) {
  img::IpcNs ipc;
  auto* s = ipc.add_sysctls();
  s->set_name("kernel/msgmax");
  s->set_value("8192");
  EXPECT_TRUE(kinds::validate_ipc(ipc));
  s = ipc.add_sysctls();
  s->set_name("../../etc/passwd");
  auto r = kinds::validate_ipc(ipc);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::BadInput);
}
