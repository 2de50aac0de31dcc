// amber_fuzz: a mutation fuzzer over everything a restore reads and checks
// before it creates anything (restore::check_image: the image reader, every
// header, every metadata kind's protobuf parse and the semantic checks
// behind it, page indexes and data, tmpfs trees, shared memory, the process
// tree) and over `amber show`'s decoders. Built with ASan + UBSan in
// build-asan (tests/CMakeLists.txt). See tests/fuzz/README.md.
//
//   amber_fuzz --corpus DIR|FILE... [--runs N] [--seconds S] [--seed S] [--jobs J]
//              [--batch N] [--crash-dir DIR] [--work DIR] [--timeout S] [--no-fork] [--no-mutate] [--verbose] [--start-batch B]
//   amber_fuzz --replay [--fixup] FILE|DIR...   run packed inputs once (regressions, crashes;
//                                               also an AFL++ target: --replay --fixup @@)
//   amber_fuzz --pack IMAGE_DIR OUT.amfz        a real image into a corpus entry (page data zeroed)
//   amber_fuzz --unpack FILE.amfz DIR           a packed input back into an image directory
//
// --no-mutate checks the corpus images as they are (the bench's baseline);
// --verbose lists the most frequent outcomes (which checks refused inputs).
// Fuzzing runs batches of inputs, each batch in a forked child (a crash ends
// only its batch; the child's LeakSanitizer check at exit covers the
// batch). Batch b of seed s always makes the same inputs (a campaign can
// be run in parts: --start-batch). A crash, sanitizer
// report or hang (--timeout) saves the input as CRASH_DIR/crash-S-B-I.amfz.
// An input a check failed with exit 1 (not a refusal) is saved as
// CRASH_DIR/failed-S-B-I.amfz. SIGINT/SIGTERM end the run after the running
// batches, with the summary. Exit status: 0 no crash, 1 crashes, 2 usage.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

#include "base/files.h"
#include "image/auth.h"
#include "image/describe.h"
#include "image/format.h"
#include "image/reader.h"
#include "mutate.h"
#include "packed.h"
#include "restore/check.h"

namespace amber::fuzz {
namespace {

struct Options {
  std::vector<std::string> corpus;
  uint64_t runs = 1'000'000;
  double seconds = 0;  // 0: no limit
  uint64_t seed = 0;
  bool seed_set = false;
  unsigned jobs = 1;
  uint64_t batch = 2000;
  uint64_t start_batch = 0;  // a long campaign in parts: batches are independent
  std::string crash_dir = "fuzz-crashes";
  std::string work;
  unsigned timeout = 20;
  bool fork = true;
  bool verbose = false;
  bool mutate = true;  // false: the corpus as it is (the bench's baseline)
};

// What one input did.
struct Counts {
  uint64_t inputs = 0, ok = 0, bad_input = 0, unsupported = 0, failed = 0, unplaceable = 0;
  void add(const Counts& o) {
    inputs += o.inputs, ok += o.ok, bad_input += o.bad_input, unsupported += o.unsupported, failed += o.failed,
        unplaceable += o.unplaceable;
  }
};

// The crash handler's view of the input being checked. Process-wide on
// purpose: a signal handler and the sanitizers' death callback can reach
// nothing else, and they must write the input with write() alone.
struct CrashState {
  const Image* current = nullptr;
  char path[4096] = {};
};
CrashState g_crash;

void save_current_input() {
  static volatile sig_atomic_t saving = 0;
  if (saving || !g_crash.current || !g_crash.path[0]) return;
  saving = 1;
  int fd = ::open(g_crash.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    pack_to_fd(fd, *g_crash.current);
    ::close(fd);
    const char msg[] = "amber_fuzz: crashing input saved to ";
    (void)!::write(2, msg, sizeof msg - 1);
    (void)!::write(2, g_crash.path, std::strlen(g_crash.path));
    (void)!::write(2, "\n", 1);
  }
}

void on_fatal_signal(int sig) {
  if (sig == SIGALRM) {
    const char msg[] = "amber_fuzz: input timed out (hang)\n";
    (void)!::write(2, msg, sizeof msg - 1);
  }
  save_current_input();
  ::signal(sig, SIG_DFL);
  if (sig == SIGALRM) ::signal(SIGABRT, SIG_DFL), ::abort();
  ::raise(sig);
}

// SIGINT/SIGTERM to the parent: no new batch; the running ones finish and
// the summary is printed. The children ignore both (Ctrl-C reaches the
// whole process group).
volatile sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

void install_crash_handlers() {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_set_death_callback(save_current_input);
  const int sigs[] = {SIGABRT, SIGALRM};  // ASan reports SEGV/BUS/FPE itself
#else
  const int sigs[] = {SIGABRT, SIGALRM, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
#endif
  for (int s : sigs) {
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_RESETHAND;
    ::sigaction(s, &sa, nullptr);
  }
}

// The checks a restore runs before it creates anything, then amber show's
// renderings. Their verdict only counts outcomes; a crash, a sanitizer
// report or a hang is what the fuzzer looks for.
struct Verdict {
  Exit exit = Exit::Ok;
  std::string message;
};
// Images are authenticated (image/auth.h): a mutated image would only ever
// meet the tag check. Each input is signed again with the fuzzer's own key
// and marked as carrying no data tags (the bench/test switch
// AMBER_INSECURE_NO_AUTH, set in main), so that the mutations reach the
// decoders and checks behind the tags; the tags themselves have unit tests
// (tests/unit/image/auth_test.cpp).
const image::Key& fuzz_key() {
  static const image::Key key = [] {
    std::array<std::byte, image::kKeySize> b{};
    for (size_t i = 0; i < b.size(); i++) b[i] = static_cast<std::byte>(0x5a ^ i);
    return image::Key::from_bytes(b);
  }();
  return key;
}

Status sign_for_fuzzing(const std::string& dir) {
  const std::string inv_path = dir + "/" + std::string(image::kInventoryFile);
  auto file = read_file(inv_path);
  if (!file || file->size() < image::kHeaderSize) return {};  // the reader reports it
  img::Inventory inv;
  if (!inv.ParseFromString(file->substr(image::kHeaderSize))) return {};
  inv.mutable_auth()->set_untagged_data(true);
  std::string payload;
  if (!inv.SerializeToString(&payload)) return {};
  auto header = image::encode_header(img::KIND_INVENTORY, payload);
  TRY(write_file_atomic(inv_path, std::string(reinterpret_cast<const char*>(header.data()), header.size()) + payload));
  return image::resign_image(dir, fuzz_key());
}

Verdict check(const std::string& dir, bool stream, bool text, bool json) {
  // A mutated inventory that cannot even be signed (a listed file missing)
  // is one the reader refuses too.
  if (auto s = sign_for_fuzzing(dir); !s) return {Exit::BadInput, s.error().message};
  auto reader = image::ImageReader::open(dir, fuzz_key());
  if (!reader) return {reader.error().exit, reader.error().message};
  Verdict v;
  auto plan = restore::check_image(*reader, stream ? restore::PageData::Stream : restore::PageData::Sizes);
  if (!plan) v = {plan.error().exit, plan.error().message};
  if (text) (void)image::describe_text(*reader);
  if (json) (void)image::describe_json(*reader);
  return v;
}

// "Every bad image exits 2": an exit 1 on a mutated image is a finding too
// (not a crash). Each outcome is kept by shape, "EXIT message" with digits
// as '#' and the work directory left out, to show which checks the inputs
// reached (--verbose) and which failed with exit 1.
void count(Counts& c, const Verdict& v, std::map<std::string, uint64_t>& shapes) {
  c.inputs++;
  switch (v.exit) {
    case Exit::Ok: c.ok++; return;
    case Exit::BadInput: c.bad_input++; break;
    case Exit::Unsupported: c.unsupported++; break;
    default: c.failed++; break;
  }
  std::string_view msg = v.message;
  if (size_t at = msg.find("/batch-"); at != std::string_view::npos) {
    size_t slash = msg.find('/', at + 1);
    msg.remove_prefix(slash == std::string_view::npos ? at : slash + 1);
  }
  std::string shape = fmt::format("{} ", static_cast<int>(v.exit));
  for (char ch : msg.substr(0, 100)) {
    const bool digit = ch >= '0' && ch <= '9';
    if (!digit || shape.back() != '#') shape += digit ? '#' : ch;
  }
  shapes[shape]++;
}

// Every input rewrites files: tmpfs if there is one (ext4 writes back a
// file truncated by O_TRUNC when it is closed).
std::string tmp_base() {
  const char* t = std::getenv("TMPDIR");
  if (t && *t) return t;
  struct stat st {};
  return ::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

Result<std::vector<Image>> load_corpus(const std::vector<std::string>& paths) {
  std::vector<Image> out;
  for (const std::string& p : paths) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return bad_input("{}: missing", p);
    if (S_ISDIR(st.st_mode) && path_exists(p + "/inventory.img")) {
      out.push_back(TRY(load_dir(p)));
      continue;
    }
    std::vector<std::string> files;
    if (S_ISDIR(st.st_mode)) {
      DIR* d = ::opendir(p.c_str());
      if (!d) return sys_fail("opendir {}", p);
      while (dirent* e = ::readdir(d))
        if (std::string_view(e->d_name).ends_with(".amfz")) files.push_back(p + "/" + e->d_name);
      ::closedir(d);
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(p);
    }
    for (const std::string& f : files) out.push_back(TRY(unpack(TRY(read_file(f)), f)));
  }
  return out;
}

// One batch of inputs, deterministic in (seed, batch).
Counts run_batch(const Options& o, const std::vector<Image>& corpus, const Dictionary& dict, uint64_t batch,
                 uint64_t n, const std::string& work, std::map<std::string, uint64_t>& shapes) {
  Rng rng(o.seed ^ (batch * 0x9e3779b97f4a7c15ULL));
  WorkDir wd(work);
  if (auto st = wd.reset(); !st) {
    std::fprintf(stderr, "amber_fuzz: %s\n", st.error().message.c_str());
    std::exit(2);
  }
  Counts c;
  const Image* base = nullptr;
  for (uint64_t i = 0; i < n; i++) {
    // A few dozen inputs from one base image: only the files a mutation
    // changed are written again.
    if (i % 128 == 0) base = &corpus[rng() % corpus.size()];
    Image img = *base;
    if (o.mutate) {
      const Fixup fx = mutate(img, rng, dict, corpus);
      fixup(img, fx, base);
    }
    // Streaming the page data and rendering for amber show cost more than
    // the rest of the checks: one input in a few.
    const bool stream = rng() % 4 == 0, text = rng() % 8 == 0, json = rng() % 8 == 0;
    std::snprintf(g_crash.path, sizeof g_crash.path, "%s/crash-%llu-%llu-%llu.amfz", o.crash_dir.c_str(),
                  static_cast<unsigned long long>(o.seed), static_cast<unsigned long long>(batch),
                  static_cast<unsigned long long>(i));
    g_crash.current = &img;
    if (!wd.put(img)) {
      if (!wd.reset() || !wd.put(img)) {  // a path both file and directory
        c.unplaceable++;
        (void)wd.reset();
        g_crash.current = nullptr;
        continue;
      }
    }
    ::alarm(o.timeout);
    Verdict v = check(wd.dir(), stream, text, json);
    ::alarm(0);
    g_crash.current = nullptr;
    count(c, v, shapes);
    if (v.exit == Exit::Failed) {  // kept for a regression input: "failed-..." beside the crashes
      std::string path = g_crash.path;
      path.replace(path.rfind("/crash-") + 1, 5, "failed");
      (void)write_new_file(path, pack(img));
    }
  }
  return c;
}

// A child's report to the parent: counts, then one line per outcome shape.
void write_report(int fd, const Counts& c, const std::map<std::string, uint64_t>& shapes) {
  std::string out = fmt::format("{} {} {} {} {} {}\n", c.inputs, c.ok, c.bad_input, c.unsupported, c.failed,
                                c.unplaceable);
  for (const auto& [shape, k] : shapes) {
    std::string line = fmt::format("{} {}\n", k, shape);
    if (out.size() + line.size() > 60000) break;  // the pipe's buffer: the child never blocks
    out += line;
  }
  (void)write_all(fd, out.data(), out.size());
}

void read_report(int fd, Counts& total, std::map<std::string, uint64_t>& shapes) {
  std::string in;
  char buf[4096];
  for (ssize_t k; (k = ::read(fd, buf, sizeof buf)) > 0;) in.append(buf, static_cast<size_t>(k));
  size_t nl = in.find('\n');
  if (nl == std::string::npos) return;
  Counts c;
  if (std::sscanf(in.substr(0, nl).c_str(), "%lu %lu %lu %lu %lu %lu", &c.inputs, &c.ok, &c.bad_input, &c.unsupported,
                  &c.failed, &c.unplaceable) != 6)
    return;
  total.add(c);
  for (size_t at = nl + 1; at < in.size();) {
    size_t end = in.find('\n', at);
    if (end == std::string::npos) break;
    std::string line = in.substr(at, end - at);
    at = end + 1;
    size_t sp = line.find(' ');
    if (sp != std::string::npos) shapes[line.substr(sp + 1)] += std::strtoull(line.c_str(), nullptr, 10);
  }
}

void print_progress(const char* what, const Counts& c, uint64_t crashes, double secs) {
  std::printf("%s inputs=%lu seconds=%.1f inputs_per_s=%.0f crashes=%lu ok=%lu bad_input=%lu unsupported=%lu "
              "failed=%lu unplaceable=%lu\n",
              what, c.inputs, secs, secs > 0 ? static_cast<double>(c.inputs) / secs : 0.0, crashes, c.ok, c.bad_input,
              c.unsupported, c.failed, c.unplaceable);
  std::fflush(stdout);
}

int fuzz(Options& o) {
  if (o.corpus.empty()) {
    std::fprintf(stderr, "amber_fuzz: no --corpus\n");
    return 2;
  }
  auto corpus = load_corpus(o.corpus);
  if (!corpus || corpus->empty()) {
    std::fprintf(stderr, "amber_fuzz: %s\n", corpus ? "the corpus is empty" : corpus.error().message.c_str());
    return 2;
  }
  // A real image from a directory is made consistent the same way as a
  // mutated one (a no-op for a committed image).
  for (Image& im : *corpus) fixup(im, Fixup{}, nullptr);
  Dictionary dict;
  for (const Image& im : *corpus) dict.add(im);
  if (!o.seed_set) o.seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) % 1000000;
  if (o.work.empty()) o.work = fmt::format("{}/amber-fuzz.{}", tmp_base(), ::getpid());
  if (auto st = make_dirs(o.crash_dir); !st) {
    std::fprintf(stderr, "amber_fuzz: %s\n", st.error().message.c_str());
    return 2;
  }
  std::printf("amber_fuzz: %zu corpus images, seed %lu, %lu runs, batches of %lu from batch %lu, %u jobs\n",
              corpus->size(), o.seed, o.runs, o.batch, o.start_batch, o.jobs);
  std::fflush(stdout);
  install_crash_handlers();

  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  Counts total;
  std::map<std::string, uint64_t> shapes;
  uint64_t crashes = 0, next_batch = o.start_batch, started = 0;
  double last_print = 0;
  std::map<pid_t, std::pair<int, uint64_t>> running;  // pid -> (report fd, batch)
  auto out_of_time = [&] { return g_stop || (o.seconds > 0 && elapsed() >= o.seconds); };
  struct sigaction stop {};
  stop.sa_handler = on_stop;  // no SA_RESTART: waitpid returns EINTR
  ::sigaction(SIGINT, &stop, nullptr);
  ::sigaction(SIGTERM, &stop, nullptr);
  while (true) {
    while (running.size() < o.jobs && started < o.runs && !out_of_time()) {
      const uint64_t batch = next_batch++, n = std::min(o.batch, o.runs - started);
      started += n;
      const std::string work = fmt::format("{}/batch-{}", o.work, batch);
      if (!o.fork) {
        Counts c = run_batch(o, *corpus, dict, batch, n, work, shapes);
        total.add(c);
        continue;
      }
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0) return 2;
      std::fflush(stdout);
      pid_t pid = ::fork();
      if (pid == 0) {
        ::signal(SIGINT, SIG_IGN);
        ::signal(SIGTERM, SIG_IGN);
        ::close(p[0]);
        std::map<std::string, uint64_t> f;
        Counts c = run_batch(o, *corpus, dict, batch, n, work, f);
        write_report(p[1], c, f);
        (void)remove_tree(work);
        std::exit(0);  // exit(), not _exit(): LeakSanitizer checks the batch
      }
      ::close(p[1]);
      running[pid] = {p[0], batch};
    }
    if (!o.fork) {
      if (started >= o.runs || out_of_time()) break;
    } else {
      if (running.empty()) break;
      int status = 0;
      pid_t pid = ::waitpid(-1, &status, 0);
      if (pid < 0 && errno == EINTR) continue;
      if (pid < 0) break;
      auto it = running.find(pid);
      if (it == running.end()) continue;
      auto [fd, batch] = it->second;
      running.erase(it);
      read_report(fd, total, shapes);
      ::close(fd);
      if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        crashes++;
        std::printf("CRASH in batch %lu (seed %lu): %s; input in %s/crash-%lu-%lu-*.amfz\n", batch, o.seed,
                    WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : fmt::format("exit {}", WEXITSTATUS(status)).c_str(),
                    o.crash_dir.c_str(), o.seed, batch);
      }
    }
    if (elapsed() - last_print >= 10) {
      last_print = elapsed();
      print_progress("progress", total, crashes, last_print);
    }
  }
  (void)remove_tree(o.work);
  std::vector<std::pair<uint64_t, std::string>> top;
  for (const auto& [shape, k] : shapes) top.emplace_back(k, shape);
  std::sort(top.rbegin(), top.rend());
  size_t shown = 0;
  for (const auto& [k, shape] : top)
    if (shape.starts_with("1 ") && shown++ < 20)
      std::printf("exit 1 (not 2) on a mutated image, %lu times: %s\n", k, shape.c_str() + 2);
  if (o.verbose)
    for (size_t i = 0; i < top.size() && i < 60; i++)
      std::printf("outcome %lu times: exit %s\n", top[i].first, top[i].second.c_str());
  std::printf("RESULT distinct_refusals=%zu\n", shapes.size());
  print_progress("RESULT", total, crashes, elapsed());
  std::printf("RESULT seed=%lu\n", o.seed);
  return crashes ? 1 : 0;
}

int replay(const std::vector<std::string>& paths, bool fix) {
  install_crash_handlers();
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
      std::fprintf(stderr, "amber_fuzz: %s: missing\n", p.c_str());
      return 2;
    }
    if (!S_ISDIR(st.st_mode)) {
      files.push_back(p);
      continue;
    }
    std::vector<std::string> in_dir;
    if (DIR* d = ::opendir(p.c_str())) {
      while (dirent* e = ::readdir(d))
        if (std::string_view(e->d_name).ends_with(".amfz")) in_dir.push_back(p + "/" + e->d_name);
      ::closedir(d);
    }
    std::sort(in_dir.begin(), in_dir.end());
    files.insert(files.end(), in_dir.begin(), in_dir.end());
  }
  WorkDir wd(fmt::format("{}/amber-fuzz-replay.{}", tmp_base(), ::getpid()));
  for (const std::string& f : files) {
    auto data = read_file(f);
    auto img = data ? unpack(*data, f) : Result<Image>(std::unexpected(data.error()));
    if (!img) {
      std::printf("%s: not replayed: %s\n", f.c_str(), img.error().message.c_str());
      continue;
    }
    if (fix) fixup(*img, Fixup{}, nullptr);
    if (!wd.reset() || !wd.put(*img)) {
      std::printf("%s: not replayed: cannot lay it out as files\n", f.c_str());
      continue;
    }
    g_crash.current = &*img;
    Verdict v = check(wd.dir(), true, true, true);
    g_crash.current = nullptr;
    std::printf("%s: exit %d%s%s\n", f.c_str(), static_cast<int>(v.exit), v.message.empty() ? "" : ": ",
                v.message.c_str());
  }
  (void)remove_tree(wd.dir());
  return 0;
}

int pack_dir(const std::string& dir, const std::string& out) {
  auto img = load_dir(dir);
  if (!img) {
    std::fprintf(stderr, "amber_fuzz: %s\n", img.error().message.c_str());
    return 1;
  }
  // Page data is zeroed: no check looks at memory contents, and zeros pack
  // to their size alone. The chunk checksums are recomputed over the zeros.
  for (File& f : img->files)
    if (f.path.ends_with(".bin") && header_kind(*f.data) == 0) f.data = std::make_shared<const std::string>(f.data->size(), '\0');
  fixup(*img, Fixup{}, nullptr);
  if (auto st = write_new_file(out, pack(*img)); !st) {
    std::fprintf(stderr, "amber_fuzz: %s\n", st.error().message.c_str());
    return 1;
  }
  return 0;
}

int unpack_to(const std::string& file, const std::string& dir) {
  auto data = read_file(file);
  auto img = data ? unpack(*data, file) : Result<Image>(std::unexpected(data.error()));
  if (!img) {
    std::fprintf(stderr, "amber_fuzz: %s\n", img.error().message.c_str());
    return 1;
  }
  if (path_exists(dir)) {
    std::fprintf(stderr, "amber_fuzz: %s exists\n", dir.c_str());
    return 1;
  }
  WorkDir wd(dir);
  if (auto st = wd.reset(); !st) return 1;
  if (auto st = wd.put(*img); !st) {
    std::fprintf(stderr, "amber_fuzz: %s\n", st.error().message.c_str());
    return 1;
  }
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: amber_fuzz --corpus DIR|FILE... [--runs N] [--seconds S] [--seed S] [--jobs J] [--batch N]\n"
               "                  [--crash-dir DIR] [--work DIR] [--timeout S] [--no-fork] [--no-mutate] [--verbose] [--start-batch B]\n"
               "       amber_fuzz --replay [--fixup] FILE|DIR...\n"
               "       amber_fuzz --pack IMAGE_DIR OUT.amfz\n"
               "       amber_fuzz --unpack FILE.amfz DIR\n");
  return 2;
}

}  // namespace
}  // namespace amber::fuzz

int main(int argc, char** argv) {
  using namespace amber::fuzz;
  // Byte mutations make protobuf log every non-UTF-8 string it refuses.
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage();
  ::setenv("AMBER_INSECURE_NO_AUTH", "1", 1);  // see sign_for_fuzzing
  if (args[0] == "--pack") return args.size() == 3 ? pack_dir(args[1], args[2]) : usage();
  if (args[0] == "--unpack") return args.size() == 3 ? unpack_to(args[1], args[2]) : usage();
  if (args[0] == "--replay") {
    bool fix = args.size() > 1 && args[1] == "--fixup";
    std::vector<std::string> paths(args.begin() + (fix ? 2 : 1), args.end());
    return paths.empty() ? usage() : replay(paths, fix);
  }
  Options o;
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) std::exit(usage());
      return args[++i];
    };
    if (a == "--corpus") {
      o.corpus.push_back(value());
      while (i + 1 < args.size() && !args[i + 1].starts_with("--")) o.corpus.push_back(args[++i]);
    } else if (a == "--runs") o.runs = std::stoull(value());
    else if (a == "--seconds") o.seconds = std::stod(value());
    else if (a == "--seed") o.seed = std::stoull(value()), o.seed_set = true;
    else if (a == "--jobs") o.jobs = std::max(1, std::stoi(value()));
    else if (a == "--batch") o.batch = std::max<uint64_t>(1, std::stoull(value()));
    else if (a == "--crash-dir") o.crash_dir = value();
    else if (a == "--work") o.work = value();
    else if (a == "--timeout") o.timeout = static_cast<unsigned>(std::stoul(value()));
    else if (a == "--no-fork") o.fork = false;
    else if (a == "--no-mutate") o.mutate = false;
    else if (a == "--start-batch") o.start_batch = std::stoull(value());
    else if (a == "--verbose") o.verbose = true;
    else return usage();
  }
  return fuzz(o);
}
