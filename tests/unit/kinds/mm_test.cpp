// Address space dump and restore on real processes: child A builds memory
// patterns and is dumped; child B (a plain fork, like a restore's init) gets
// A's address space rebuilt into it and is compared with A from outside, then
// runs A's code to check the patterns itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <sys/syscall.h>
#include <sys/user.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "base/files.h"
#include "image/layout.h"
#include "image/pages.h"
#include "image/reader.h"
#include "image/writer.h"
#include "kinds/mm.h"
#include "kinds/mm_smaps.h"
#include "mm_test_util.h"
#include "remote/remote_task.h"
#include "sys/ptrace.h"
#include "test_key.h"

namespace amber::kinds {
namespace {

using namespace mmtest;
using remote::RemoteTask;

// ---- the dumped child ----

struct Layout {
  uint64_t heap, stack, bss;
  uint64_t sparse, ro, none, file, grows, named, big;
  uint64_t big_len;
  int named_ok;
};

constexpr size_t kSparseLen = size_t{64} << 20;
constexpr uint64_t kSparseTouched[] = {0, 1, 1000, 8191, 16383};
constexpr size_t kFilePages = 4;
constexpr size_t kHeapChunks = 16, kHeapChunk = 3000;
constexpr size_t kStackBuf = 64 * 1024;
constexpr size_t kGrowsPages = 16;

// In .bss: what A writes here must be what B sees after the restore.
alignas(4096) uint8_t g_mm_bss[256 * 1024];

// Big areas: a cheap word pattern.
void fill64(void* p, size_t n, uint64_t seed) {
  auto* w = static_cast<uint64_t*>(p);
  for (size_t i = 0; i < n / 8; i++) w[i] = i * 0x9e3779b97f4a7c15ull + seed;
}
bool check64(const void* p, size_t n, uint64_t seed) {
  auto* w = static_cast<const uint64_t*>(p);
  for (size_t i = 0; i < n / 8; i++)
    if (w[i] != i * 0x9e3779b97f4a7c15ull + seed) return false;
  return true;
}

void* map_anon(size_t len, int prot = PROT_READ | PROT_WRITE, int extra = 0) {
  void* p = ::mmap(nullptr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
  if (p == MAP_FAILED) ::_exit(101);
  return p;
}

// Builds every pattern, reports the layout, waits for "go", then checks all
// patterns and exits 0, or 10+k for the first broken one. After a restore
// this code runs in B.
[[noreturn]] __attribute__((noinline)) void patterns_child(int rep, const char* file_path, size_t big_len) {
  Layout L{};
  void* heap[kHeapChunks];
  for (size_t i = 0; i < kHeapChunks; i++) {
    heap[i] = std::malloc(kHeapChunk);
    fill(heap[i], kHeapChunk, 100 + i);
  }
  L.heap = reinterpret_cast<uint64_t>(heap[0]);
  alignas(64) uint8_t stack_buf[kStackBuf];
  fill(stack_buf, sizeof stack_buf, 2);
  L.stack = reinterpret_cast<uint64_t>(stack_buf);
  fill(g_mm_bss, sizeof g_mm_bss, 3);
  L.bss = reinterpret_cast<uint64_t>(g_mm_bss);

  auto* sparse = static_cast<uint8_t*>(map_anon(kSparseLen));
  ::madvise(sparse, kSparseLen, MADV_NOHUGEPAGE);  // one touch = one page, whatever THP says
  for (uint64_t i : kSparseTouched) fill(sparse + i * kPg, kPg, 1000 + i);
  auto* ro = static_cast<uint8_t*>(map_anon(3 * kPg));
  fill(ro, 3 * kPg, 4);
  ::mprotect(ro, 3 * kPg, PROT_READ);
  auto* none = static_cast<uint8_t*>(map_anon(2 * kPg));
  fill(none, 2 * kPg, 5);
  ::mprotect(none, 2 * kPg, PROT_NONE);
  int fd = ::open(file_path, O_RDONLY);
  auto* file = static_cast<uint8_t*>(::mmap(nullptr, kFilePages * kPg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
  if (fd < 0 || file == MAP_FAILED) ::_exit(102);
  ::close(fd);
  volatile uint8_t touch = file[0];  // page cache, stays file-backed
  (void)touch;
  fill(file + 2 * kPg, kPg, 6);  // copied on write: anonymous
  auto* grows = static_cast<uint8_t*>(map_anon(kGrowsPages * kPg, PROT_READ | PROT_WRITE, MAP_GROWSDOWN));
  fill(grows + (kGrowsPages - 1) * kPg, kPg, 7);
  auto* named = static_cast<uint8_t*>(map_anon(2 * kPg));
  fill(named, 2 * kPg, 8);
  L.named_ok = ::prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, named, 2 * kPg, "amber-mm-test") == 0;
  uint8_t* big = nullptr;
  if (big_len) {
    // MAP_POPULATE: 65536 user page faults would cost seconds in this VM.
    big = static_cast<uint8_t*>(map_anon(big_len, PROT_READ | PROT_WRITE, MAP_POPULATE));
    fill64(big, big_len, 9);
  }
  L.sparse = reinterpret_cast<uint64_t>(sparse);
  L.ro = reinterpret_cast<uint64_t>(ro);
  L.none = reinterpret_cast<uint64_t>(none);
  L.file = reinterpret_cast<uint64_t>(file);
  L.grows = reinterpret_cast<uint64_t>(grows);
  L.named = reinterpret_cast<uint64_t>(named);
  L.big = reinterpret_cast<uint64_t>(big);
  L.big_len = big_len;
  if (::write(rep, &L, sizeof L) != sizeof L) ::_exit(103);

  wait_for_go();

  for (size_t i = 0; i < kHeapChunks; i++)
    if (!check(heap[i], kHeapChunk, 100 + i)) ::_exit(11);
  if (!check(stack_buf, sizeof stack_buf, 2)) ::_exit(12);
  if (!check(g_mm_bss, sizeof g_mm_bss, 3)) ::_exit(13);
  for (uint64_t i : kSparseTouched)
    if (!check(sparse + i * kPg, kPg, 1000 + i)) ::_exit(14);
  if (!all_zero(sparse + 2 * kPg, kPg) || !all_zero(sparse + 5000 * kPg, kPg)) ::_exit(14);
  if (!check(ro, 3 * kPg, 4)) ::_exit(15);
  if (::mprotect(none, 2 * kPg, PROT_READ) || !check(none, 2 * kPg, 5)) ::_exit(16);
  for (size_t p = 0; p < kFilePages; p++)
    if (!check(file + p * kPg, kPg, p == 2 ? 6 : 50 + p)) ::_exit(17);
  if (!check(grows + (kGrowsPages - 1) * kPg, kPg, 7)) ::_exit(18);
  if (!check(named, 2 * kPg, 8)) ::_exit(19);
  if (big && !check64(big, big_len, 9)) ::_exit(20);
  ::_exit(0);
}

// What a restore's init is before its memory is replaced: a fork that waits.
// Exits 77 if it ever runs its own code again.
[[noreturn]] void idle_child(int rep) {
  if (::write(rep, "r", 1) != 1) ::_exit(103);
  wait_for_go();
  ::_exit(77);
}

// ---- fixture ----

class MmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (ptrace, /proc/PID/mem, PR_SET_MM_MAP)";
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/amber-mm-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << strerror(errno);
    root_ = tmpl;
    file_ = root_ + "/data.bin";
    std::string content(kFilePages * kPg, '\0');
    for (size_t p = 0; p < kFilePages; p++) fill(content.data() + p * kPg, kPg, 50 + p);
    file_content_ = content;
    ASSERT_TRUE(write_new_file(file_, content));
    image_ = root_ + "/img";
  }
  void TearDown() override {
    if (!root_.empty()) (void)remove_tree(root_);
  }

  // Dumps the seized task into image_.
  void dump_image(RemoteTask& t, img::Mm& mm, double* seconds = nullptr) {
    auto w = image::ImageWriter::create(image_, image::test_key());
    ASSERT_TRUE(w) << w.error().message;
    auto pw = image::PageWriter::create(*w, image::pages_index_path(1), image::pages_data_path(1));
    ASSERT_TRUE(pw) << pw.error().message;
    auto t0 = std::chrono::steady_clock::now();
    auto m = dump_mm(t, *pw);
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_TRUE(pw->finish());
    if (seconds) *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    m->set_pages_index(image::pages_index_path(1));
    ASSERT_TRUE(w->write(image::mm_path(1), img::KIND_MM, *m));
    auto c = w->commit();
    ASSERT_TRUE(c) << c.error().message;
    mm = *m;
  }

  // Maps the executor in the seized task where the image leaves room and
  // restores the image into it; `edit` may change the Mm read back first.
  Status restore_image(RemoteTask& t, img::Mm* loaded = nullptr, double* seconds = nullptr,
                       const std::function<void(img::Mm&)>& edit = {}) {
    auto r = TRY(image::ImageReader::open(image_, image::test_key()));
    img::Mm mm = TRY(r.read<img::Mm>(image::mm_path(1), img::KIND_MM));
    if (edit) edit(mm);
    if (!t.has_executor()) {
      auto current = TRY(sys::read_maps(t.tgid()));
      uint64_t at = pick_executor_addr(mm, current, size_t{1} << 20);
      if (!at) return failf("no room for the executor");
      TRY(t.map_executor(at));
    }
    auto pages = TRY(image::PageReader::open(r, mm.pages_index()));
    if (loaded) *loaded = mm;
    auto t0 = std::chrono::steady_clock::now();
    TRY(restore_mm(t, mm, pages, {}));
    if (seconds) *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return {};
  }

  std::string data_file() const { return image_ + "/" + image::pages_data_path(1); }

  std::string root_, file_, file_content_, image_;
};

uint64_t stored_pages_in(const image::PageReader& pages, uint64_t start, uint64_t end) {
  uint64_t n = 0;
  for (const img::PageRun& r : pages.index().runs()) {
    uint64_t s = std::max(start, r.vaddr()), e = std::min(end, r.vaddr() + r.nr_pages() * kPg);
    if (s < e) n += (e - s) / kPg;
  }
  return n;
}

const img::VmArea* area_at(const img::Mm& mm, uint64_t addr) {
  for (const img::VmArea& a : mm.areas())
    if (a.start() <= addr && addr < a.end()) return &a;
  return nullptr;
}

// Every area of A readable through /proc/PID/mem has the same bytes in B.
void expect_same_memory(pid_t a, pid_t b) {
  auto maps = sys::read_maps(a);
  ASSERT_TRUE(maps) << maps.error().message;
  size_t compared = 0;
  for (const sys::VmArea& v : *maps) {
    if (v.path == "[vvar]" || v.path == "[vvar_vclock]" || v.path == "[vsyscall]") continue;
    std::string diff = diff_mem(a, b, v.start, v.end);
    EXPECT_EQ(diff, "") << maps_line(v);
    compared += v.size();
  }
  EXPECT_GT(compared, 0u);
}

// Registers, xstate and rseq of A on B, the executor removed, B released to
// run A's code from where A was stopped (inside read(): the kernel's restart
// state is gone, so the syscall is issued again by hand).
void run_restored(RemoteTask& ta, RemoteTask& tb) {
  user_regs_struct regs = ta.saved_regs();
  long rax = static_cast<long>(regs.rax);
  if (rax == -512 || rax == -513 || rax == -514) {
    regs.rax = regs.orig_rax;
    regs.rip -= 2;
  } else if (rax == -516) {
    regs.rax = static_cast<unsigned long long>(-EINTR);
  }
  auto rc = sys::get_rseq_configuration(ta.tid());
  ASSERT_TRUE(rc) << rc.error().message;
  if (rc->rseq_abi_pointer) {
    auto r = tb.syscall_checked("rseq register", SYS_rseq, rc->rseq_abi_pointer, rc->rseq_abi_size, 0, rc->signature);
    ASSERT_TRUE(r) << r.error().message;
  }
  auto un = tb.unmap_executor();
  ASSERT_TRUE(un) << un.error().message;
  auto xs = sys::get_xstate(ta.tid());
  ASSERT_TRUE(xs) << xs.error().message;
  ASSERT_TRUE(sys::set_xstate(tb.tid(), *xs));
  tb.set_saved_regs(regs);
  auto rel = tb.release();
  ASSERT_TRUE(rel) << rel.error().message;
}

// ---- tests ----

TEST_F(MmTest, RoundTripRebuildsLayoutAndBytesAndTheCodeCarriesOn) {
  MmChild a([&](int rep) { patterns_child(rep, file_.c_str(), 0); });
  Layout L{};
  ASSERT_TRUE(a.receive(&L, sizeof L));
  auto ta = RemoteTask::seize(a.pid());
  ASSERT_TRUE(ta) << ta.error().message;
  img::Mm mm;
  ASSERT_NO_FATAL_FAILURE(dump_image(*ta, mm));

  // What the image says about A.
  auto reader = image::ImageReader::open(image_, image::test_key());
  ASSERT_TRUE(reader) << reader.error().message;
  auto pages = image::PageReader::open(*reader, mm.pages_index());
  ASSERT_TRUE(pages) << pages.error().message;
  EXPECT_EQ(stored_pages_in(*pages, L.sparse, L.sparse + kSparseLen), std::size(kSparseTouched));
  EXPECT_EQ(stored_pages_in(*pages, L.file, L.file + kFilePages * kPg), 1u) << "only the written page of the file";
  EXPECT_EQ(stored_pages_in(*pages, L.file + 2 * kPg, L.file + 3 * kPg), 1u);
  EXPECT_EQ(stored_pages_in(*pages, L.none, L.none + 2 * kPg), 2u);
  // The whole store is about what the test binary and the patterns touched
  // (~8,000-12,400 pages as it grows: its libraries' relocated data,
  // libcrypto's included), not the 16,384 pages of the sparse area on top.
  EXPECT_LT(pages->nr_pages(), 14336u);
  ASSERT_NE(area_at(mm, L.grows), nullptr);
  EXPECT_TRUE(area_at(mm, L.grows)->flags() & img::VMA_GROWSDOWN);
  EXPECT_EQ(area_at(mm, L.ro)->prot(), static_cast<uint32_t>(PROT_READ));
  EXPECT_EQ(area_at(mm, L.none)->prot(), 0u);
  EXPECT_TRUE(area_at(mm, L.sparse)->flags() & img::VMA_NOHUGEPAGE);
  EXPECT_EQ(area_at(mm, L.file)->path(), file_);
  EXPECT_TRUE(area_at(mm, L.file)->flags() & img::VMA_FILE);
  if (L.named_ok) {
    EXPECT_EQ(area_at(mm, L.named)->name(), "[anon:amber-mm-test]");
  }
  EXPECT_NE(mm.vdso_xxh3(), 0u);
  EXPECT_NE(mm.brk(), 0u);
  EXPECT_GE(mm.brk(), mm.start_brk());
  EXPECT_FALSE(mm.auxv().empty());

  // Rebuild it in B.
  MmChild b([](int rep) { idle_child(rep); });
  char ready;
  ASSERT_TRUE(b.receive(&ready, 1));
  auto tb = RemoteTask::seize(b.pid());
  ASSERT_TRUE(tb) << tb.error().message;
  img::Mm loaded;
  auto st = restore_image(*tb, &loaded);
  ASSERT_TRUE(st) << st.error().message;
  const uint64_t xs = tb->executor_base(), xe = xs + tb->executor_size();
  auto v = verify_mm(b.pid(), loaded, xs, xe - xs);
  EXPECT_TRUE(v) << v.error().message;
  {
    // Only the lines that differ: the whole lists hide them (this check
    // failed once in ~15 loaded runs; the diff says where next time).
    auto la = maps_lines(a.pid()), lb = maps_lines(b.pid(), xs, xe);
    std::string only_a, only_b;
    for (const auto& l : la)
      if (std::find(lb.begin(), lb.end(), l) == lb.end()) only_a += "\n  " + l;
    for (const auto& l : lb)
      if (std::find(la.begin(), la.end(), l) == la.end()) only_b += "\n  " + l;
    EXPECT_TRUE(only_a.empty() && only_b.empty()) << "only in A's maps:" << only_a << "\nonly in B's maps:" << only_b;
  }
  ASSERT_NO_FATAL_FAILURE(expect_same_memory(a.pid(), b.pid()));
  EXPECT_EQ(read_link(fmt::format("/proc/{}/exe", b.pid())).value_or("?"),
            read_link(fmt::format("/proc/{}/exe", a.pid())).value_or("!"));
  EXPECT_EQ(read_file(fmt::format("/proc/{}/auxv", b.pid())).value_or("?"), mm.auxv());
  EXPECT_EQ(read_file(fmt::format("/proc/{}/cmdline", b.pid())).value_or("?"),
            read_file(fmt::format("/proc/{}/cmdline", a.pid())).value_or("!"));
  auto sa = sys::read_stat(a.pid()), sb = sys::read_stat(b.pid());
  ASSERT_TRUE(sa && sb);
  EXPECT_EQ(sb->start_brk, sa->start_brk);
  EXPECT_EQ(sb->start_stack, sa->start_stack);
  EXPECT_EQ(sb->env_end, sa->env_end);
  EXPECT_EQ(read_file(file_).value_or("?"), file_content_) << "the private mapping must not write the file";

  // verify_mm notices a difference.
  img::Mm changed = loaded;
  for (img::VmArea& ar : *changed.mutable_areas())
    if (ar.start() == L.ro) ar.set_prot(PROT_READ | PROT_WRITE);
  EXPECT_FALSE(verify_mm(b.pid(), changed, xs, xe - xs));

  // B runs A's code: it checks every pattern itself and exits 0.
  ASSERT_NO_FATAL_FAILURE(run_restored(*ta, *tb));
  ASSERT_TRUE(b.go());
  int status = b.wait();
  ASSERT_TRUE(WIFEXITED(status)) << "status " << std::hex << status
                                 << (WIFSIGNALED(status) ? std::string(" signal ") + strsignal(WTERMSIG(status)) : "");
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10+k: pattern k broken; 77: B ran its own code";
  EXPECT_TRUE(ta->kill());
}

// Shared anonymous memory and shared file mappings are dumped (shmem.h);
// a MAP_SHARED file that was deleted is not (yet).
// An unlinked tmpfs file mapped shared (shm_open, then unlink) is an object
// of shmem.img, like shared anonymous memory: its area refers to it by dev
// and inode, its pages are not in the task's store (dump_shmem copies them).
TEST_F(MmTest, SharedMappingsOfDeletedTmpfsFilesAreSharedMemoryObjects) {
  std::string shm = fmt::format("/dev/shm/amber-mm-test-{}", ::getpid());
  struct stat st {};
  MmChild a([&](int rep) {
    map_anon(kPg, PROT_READ | PROT_WRITE, 0);
    int fd = ::open(shm.c_str(), O_CREAT | O_RDWR, 0600);
    if (fd < 0 || ::ftruncate(fd, kPg) != 0) ::_exit(104);
    char* p = static_cast<char*>(::mmap(nullptr, kPg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    if (p == MAP_FAILED) ::_exit(105);
    p[0] = 'x';
    if (::write(rep, "r", 1) != 1) ::_exit(103);
    wait_for_go();
    ::_exit(5);
  });
  char ready;
  ASSERT_TRUE(a.receive(&ready, 1));
  ASSERT_EQ(::stat(shm.c_str(), &st), 0);
  ASSERT_EQ(::unlink(shm.c_str()), 0);
  auto ta = RemoteTask::seize(a.pid());
  ASSERT_TRUE(ta) << ta.error().message;
  auto w = image::ImageWriter::create(image_, image::test_key());
  ASSERT_TRUE(w);
  auto pw = image::PageWriter::create(*w, image::pages_index_path(1), image::pages_data_path(1));
  ASSERT_TRUE(pw);
  auto m = dump_mm(*ta, *pw);
  ASSERT_TRUE(m) << m.error().message;
  const img::VmArea* found = nullptr;
  for (const img::VmArea& v : m->areas())
    if (v.path() == shm) found = &v;
  ASSERT_NE(found, nullptr);
  const uint32_t want = img::VMA_SHMEM | img::VMA_SHARED | img::VMA_FILE | img::VMA_FILE_DELETED;
  EXPECT_EQ(found->flags() & want, want) << std::hex << found->flags();
  EXPECT_EQ(found->inode(), st.st_ino);
  EXPECT_FALSE(found->pages_in_store());
  ASSERT_TRUE(ta->release());
  ASSERT_TRUE(a.go());
  int status = a.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 5) << std::hex << status;
}

// Paths are recorded relative to the task's root (a container's rootfs); a
// task in a chroot whose libraries were mapped from outside it cannot be
// restored by path.
TEST_F(MmTest, FilesOutsideTheTasksRootAreRefused) {
  MmChild a([&](int rep) {
    if (::chroot(root_.c_str()) != 0) ::_exit(106);
    if (::write(rep, "r", 1) != 1) ::_exit(103);
    wait_for_go();
    ::_exit(5);
  });
  char ready;
  ASSERT_TRUE(a.receive(&ready, 1));
  auto ta = RemoteTask::seize(a.pid());
  ASSERT_TRUE(ta) << ta.error().message;
  auto w = image::ImageWriter::create(image_, image::test_key());
  ASSERT_TRUE(w);
  auto pw = image::PageWriter::create(*w, image::pages_index_path(1), image::pages_data_path(1));
  ASSERT_TRUE(pw);
  auto m = dump_mm(*ta, *pw);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().exit, Exit::Unsupported) << m.error().message;
  EXPECT_NE(m.error().message.find("libc.so.6 (mapped file outside the task's root " + root_ + ")"), std::string::npos)
      << m.error().message;
}

// Page data is checked before the task is touched: a bad byte is BadInput
// and B is left exactly as it was.
// The chunks are verified while they are copied (DESIGN.md "Validation":
// a mismatch aborts, the caller rolls back by killing the task): the
// restore stops with Exit::BadInput naming the chunk, and the task is dead
// weight, never run.
TEST_F(MmTest, CorruptPageDataStopsTheRestore) {
  MmChild a([&](int rep) { patterns_child(rep, file_.c_str(), 0); });
  Layout L{};
  ASSERT_TRUE(a.receive(&L, sizeof L));
  img::Mm mm;
  {
    auto ta = RemoteTask::seize(a.pid());
    ASSERT_TRUE(ta) << ta.error().message;
    ASSERT_NO_FATAL_FAILURE(dump_image(*ta, mm));
  }
  {
    int fd = ::open(data_file().c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    uint8_t c = 0;
    ASSERT_EQ(::pread(fd, &c, 1, 4096 + 17), 1);
    c ^= 0x40;
    ASSERT_EQ(::pwrite(fd, &c, 1, 4096 + 17), 1);
    ::close(fd);
  }
  MmChild b([](int rep) { idle_child(rep); });
  char ready;
  ASSERT_TRUE(b.receive(&ready, 1));
  auto tb = RemoteTask::seize(b.pid());
  ASSERT_TRUE(tb) << tb.error().message;
  auto st = restore_image(*tb);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::BadInput) << st.error().message;
  EXPECT_NE(st.error().message.find("not authenticated with this key"), std::string::npos) << st.error().message;
  ASSERT_TRUE(tb->send_kill());
  int status = b.wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << std::hex << status;
}

TEST_F(MmTest, ADifferentVdsoIsRefusedBeforeTheTaskIsTouched) {
  MmChild a([&](int rep) { patterns_child(rep, file_.c_str(), 0); });
  Layout L{};
  ASSERT_TRUE(a.receive(&L, sizeof L));
  img::Mm mm;
  {
    auto ta = RemoteTask::seize(a.pid());
    ASSERT_TRUE(ta) << ta.error().message;
    ASSERT_NO_FATAL_FAILURE(dump_image(*ta, mm));
  }
  MmChild b([](int rep) { idle_child(rep); });
  char ready;
  ASSERT_TRUE(b.receive(&ready, 1));
  auto before = maps_lines(b.pid());
  auto tb = RemoteTask::seize(b.pid());
  ASSERT_TRUE(tb) << tb.error().message;
  auto st = restore_image(*tb, nullptr, nullptr, [](img::Mm& m) { m.set_vdso_xxh3(m.vdso_xxh3() ^ 1); });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::Unsupported) << st.error().message;
  EXPECT_NE(st.error().message.find("vdso layout differs from the dumping kernel's"), std::string::npos)
      << st.error().message;
  ASSERT_TRUE(tb->unmap_executor());
  EXPECT_EQ(maps_lines(b.pid()), before);
}

TEST_F(MmTest, AMissingFileNamesTheArea) {
  MmChild a([&](int rep) { patterns_child(rep, file_.c_str(), 0); });
  Layout L{};
  ASSERT_TRUE(a.receive(&L, sizeof L));
  img::Mm mm;
  {
    auto ta = RemoteTask::seize(a.pid());
    ASSERT_TRUE(ta) << ta.error().message;
    ASSERT_NO_FATAL_FAILURE(dump_image(*ta, mm));
  }
  ASSERT_EQ(::rename(file_.c_str(), (file_ + ".gone").c_str()), 0);
  MmChild b([](int rep) { idle_child(rep); });
  char ready;
  ASSERT_TRUE(b.receive(&ready, 1));
  auto tb = RemoteTask::seize(b.pid());
  ASSERT_TRUE(tb) << tb.error().message;
  auto st = restore_image(*tb);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::Failed);
  EXPECT_EQ(st.error().sys_errno, ENOENT);
  EXPECT_NE(st.error().message.find(fmt::format("restore: task {}: mmap {:x}-{:x} {}: No such file or directory",
                                                b.pid(), L.file, L.file + kFilePages * kPg, file_)),
            std::string::npos)
      << st.error().message;
  EXPECT_TRUE(tb->kill());  // torn down: only good for killing now
}

TEST_F(MmTest, Throughput256MiB) {
  constexpr size_t kBig = size_t{256} << 20;
  MmChild a([&](int rep) { patterns_child(rep, file_.c_str(), kBig); });
  Layout L{};
  ASSERT_TRUE(a.receive(&L, sizeof L));
  auto ta = RemoteTask::seize(a.pid());
  ASSERT_TRUE(ta) << ta.error().message;
  img::Mm mm;
  double dump_s = 0, restore_s = 0;
  ASSERT_NO_FATAL_FAILURE(dump_image(*ta, mm, &dump_s));
  MmChild b([](int rep) { idle_child(rep); });
  char ready;
  ASSERT_TRUE(b.receive(&ready, 1));
  auto tb = RemoteTask::seize(b.pid());
  ASSERT_TRUE(tb) << tb.error().message;
  auto st = restore_image(*tb, nullptr, &restore_s);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(diff_mem(a.pid(), b.pid(), L.big, L.big + kBig), "");
  const double mib = static_cast<double>(kBig) / (1 << 20);
  std::printf("[mm] 256 MiB area (+ the test binary's pages): dump %.0f ms (%.2f GB/s), restore %.0f ms (%.2f GB/s)\n",
              dump_s * 1e3, kBig / dump_s / 1e9, restore_s * 1e3, kBig / restore_s / 1e9);
  RecordProperty("dump_mib_per_s", static_cast<int>(mib / dump_s));
  RecordProperty("restore_mib_per_s", static_cast<int>(mib / restore_s));
  ASSERT_NO_FATAL_FAILURE(run_restored(*ta, *tb));
  ASSERT_TRUE(b.go());
  int status = b.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << std::hex << status;
  EXPECT_TRUE(ta->kill());
}

// ---- pure parts ----

TEST(MmLayout, PickExecutorAddrAvoidsBothLayouts) {
  img::Mm saved;
  auto add = [&](uint64_t s, uint64_t e) {
    auto* a = saved.add_areas();
    a->set_start(s);
    a->set_end(e);
  };
  add(0x100000000, 0x100400000);  // right where the search starts
  add(0x555555554000, 0x555555560000);
  std::vector<sys::VmArea> cur(1);
  cur[0].start = 0x100500000;  // in the 1 MiB margin after the saved area
  cur[0].end = 0x100600000;
  uint64_t at = pick_executor_addr(saved, cur, 0x45000);
  ASSERT_NE(at, 0u);
  EXPECT_EQ(at % 4096, 0u);
  EXPECT_GE(at, 0x100600000u + (1u << 20));
  // Everything taken above 256 MiB except one hole below 4 GiB.
  img::Mm full;
  auto* a1 = full.add_areas();
  a1->set_start(0x10000000);
  a1->set_end(0x20000000);
  auto* a2 = full.add_areas();
  a2->set_start(0x30000000);
  a2->set_end(0x7ffffffff000);
  at = pick_executor_addr(full, {}, 0x45000);
  EXPECT_EQ(at, 0x20000000u + (1u << 20));
}

TEST(MmLayout, ParseSmapsFlags) {
  const char* text =
      "7ffc501de000-7ffc501ff000 rw-p 00000000 00:00 0                          [stack]\n"
      "Size:                132 kB\n"
      "KernelPageSize:        4 kB\n"
      "VmFlags: rd wr mr mw me gd ac \n"
      "7f0000000000-7f0000200000 rw-p 00000000 00:00 0 \n"
      "Size:               2048 kB\n"
      "VmFlags: rd wr mr mw me nr hg dd sl \n"
      "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"
      "VmFlags: ex \n"
      // mlock2(MLOCK_ONFAULT) and MAP_DROPPABLE areas, as 6.18 shows them.
      "7f275acc0000-7f275acc4000 rw-p 00000000 00:00 0 \n"
      "VmFlags: rd wr mr mw me lo lf ac \n"
      "7f275aad0000-7f275aad6000 rw-p 00000000 00:00 0 \n"
      "VmFlags: rd wr mr mw me nr wf dd dp \n";
  auto v = parse_smaps(text);
  ASSERT_TRUE(v) << v.error().message;
  ASSERT_EQ(v->size(), 5u);
  EXPECT_EQ((*v)[3].flags, kSmMayWrite | kSmLocked | kSmLockOnFault);
  EXPECT_EQ((*v)[4].flags, kSmMayWrite | kSmNoReserve | kSmWipeOnFork | kSmDontDump | kSmDroppable);
  EXPECT_EQ((*v)[0].start, 0x7ffc501de000u);
  EXPECT_EQ((*v)[0].flags, kSmGrowsDown | kSmMayWrite);
  EXPECT_EQ((*v)[1].flags, kSmNoReserve | kSmHugePage | kSmDontDump | kSmSealed | kSmMayWrite);
  EXPECT_EQ((*v)[2].flags, 0u);
  EXPECT_FALSE(parse_smaps("VmFlags: rd\n"));
}

TEST(MmLayout, ValidateRefusesRunsOutsideAreasAndUnsupportedAreas) {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/amber-mm-validate.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  std::string dir = tmpl + "/img";
  {
    auto w = image::ImageWriter::create(dir, image::test_key());
    ASSERT_TRUE(w);
    auto pw = image::PageWriter::create(*w, image::pages_index_path(1), image::pages_data_path(1));
    ASSERT_TRUE(pw);
    std::vector<std::byte> page(2 * kPg, std::byte{1});
    ASSERT_TRUE(pw->append(0x10000000, page));  // 2 pages: the second is outside the area below
    ASSERT_TRUE(pw->finish());
    ASSERT_TRUE(w->commit());
  }
  auto r = image::ImageReader::open(dir, image::test_key());
  ASSERT_TRUE(r);
  auto pages = image::PageReader::open(*r, image::pages_index_path(1));
  ASSERT_TRUE(pages);
  img::Mm mm;
  auto* a = mm.add_areas();
  a->set_start(0x10000000);
  a->set_end(0x10001000);
  a->set_prot(PROT_READ | PROT_WRITE);
  a->set_flags(img::VMA_PRIVATE | img::VMA_ANON);
  a->set_pages_in_store(true);
  auto st = validate_mm(mm, *pages);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::BadInput) << st.error().message;
  a->set_end(0x10002000);
  EXPECT_TRUE(validate_mm(mm, *pages));
  a->set_pages_in_store(false);
  EXPECT_FALSE(validate_mm(mm, *pages));
  a->set_pages_in_store(true);
  auto* s = mm.add_areas();
  s->set_start(0x20000000);
  s->set_end(0x20001000);
  s->set_flags(img::VMA_SHARED | img::VMA_FILE);
  s->set_path("/dev/shm/x");
  EXPECT_TRUE(validate_mm(mm, *pages));
  // A shared area never holds pages: the restore would write the file.
  s->set_pages_in_store(true);
  st = validate_mm(mm, *pages);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::BadInput);
  s->set_pages_in_store(false);
  // A SysV shm attach is a shared area named /SYSV<key> (ipc_sysv.h).
  s->set_flags(img::VMA_SHARED | img::VMA_FILE | img::VMA_SYSVSHM);
  st = validate_mm(mm, *pages);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::BadInput);
  s->set_path("/SYSV00001234");
  s->set_flags(img::VMA_SHARED | img::VMA_FILE | img::VMA_SYSVSHM | img::VMA_FILE_DELETED);
  EXPECT_TRUE(validate_mm(mm, *pages));
  s->set_flags(img::VMA_PRIVATE | img::VMA_FILE | img::VMA_SYSVSHM | img::VMA_FILE_DELETED);
  st = validate_mm(mm, *pages);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::BadInput);
  s->set_path("/dev/shm/x");
  s->set_flags(img::VMA_SHARED | img::VMA_FILE);
  EXPECT_TRUE(validate_mm(mm, *pages));
  // Lock and droppable flags only as the kernel can have them; the
  // mlockall flags only MCL_FUTURE [| MCL_ONFAULT].
  auto bad_input_with = [&](const char* what) {
    auto v = validate_mm(mm, *pages);
    EXPECT_FALSE(v) << what;
    if (!v) {
      EXPECT_EQ(v.error().exit, Exit::BadInput) << what << ": " << v.error().message;
    }
  };
  a->set_flags(img::VMA_PRIVATE | img::VMA_ANON | img::VMA_LOCKED | img::VMA_LOCKONFAULT);
  EXPECT_TRUE(validate_mm(mm, *pages));
  a->set_flags(img::VMA_PRIVATE | img::VMA_ANON | img::VMA_LOCKONFAULT);
  bad_input_with("lock on fault without VMA_LOCKED");
  a->set_flags(img::VMA_PRIVATE | img::VMA_ANON | img::VMA_DROPPABLE);
  bad_input_with("droppable area with pages in the store");
  a->set_flags(img::VMA_PRIVATE | img::VMA_ANON);
  auto* d = mm.add_areas();  // after the shared one
  d->set_start(0x30000000);
  d->set_end(0x30004000);
  d->set_prot(PROT_READ | PROT_WRITE);
  d->set_flags(img::VMA_PRIVATE | img::VMA_ANON | img::VMA_DROPPABLE);
  EXPECT_TRUE(validate_mm(mm, *pages));
  d->set_flags(img::VMA_PRIVATE | img::VMA_ANON | img::VMA_DROPPABLE | img::VMA_LOCKED);
  bad_input_with("locked droppable area");
  d->set_flags(img::VMA_PRIVATE | img::VMA_FILE | img::VMA_DROPPABLE);
  d->set_path("/x");
  bad_input_with("droppable file area");
  d->set_flags(img::VMA_PRIVATE | img::VMA_ANON | img::VMA_DROPPABLE);
  d->clear_path();
  mm.set_mlockall_flags(MCL_FUTURE | MCL_ONFAULT);
  EXPECT_TRUE(validate_mm(mm, *pages));
  mm.set_mlockall_flags(MCL_CURRENT | MCL_FUTURE);
  bad_input_with("mlockall(MCL_CURRENT)");
  (void)remove_tree(tmpl);
}

}  // namespace
}  // namespace amber::kinds
