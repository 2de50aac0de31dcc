#include "sys/cgroup.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <thread>

#include "base/files.h"

namespace amber::sys {

using Clock = std::chrono::steady_clock;

Result<std::string> cgroup2_mount() {
  // Hybrid hosts mount v2 at .../unified and v1 controllers beside it; a pure
  // v2 host mounts it at /sys/fs/cgroup itself. Check the magic, not the name.
  for (const char* p : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    struct statfs st {};
    if (::statfs(p, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) return std::string(p);
  }
  return unsupported("no cgroup v2 hierarchy mounted at /sys/fs/cgroup/unified or /sys/fs/cgroup");
}

Status cgroup_create(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0) return sys_fail("create cgroup {}", path);
  return {};
}

Status cgroup_remove(const std::string& path) {
  auto deadline = Clock::now() + std::chrono::seconds(2);
  for (;;) {
    if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return {};
    if (errno != EBUSY || Clock::now() > deadline) return sys_fail("remove cgroup {}", path);
    std::this_thread::sleep_for(milliseconds(10));
  }
}

bool cgroup_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<UniqueFd> cgroup_open(const std::string& path) {
  return context(open_fd(path, O_RDONLY | O_DIRECTORY), "open cgroup");
}

std::map<std::string, std::string> parse_cgroup_events(std::string_view text) {
  std::map<std::string, std::string> out;
  for (std::string_view line : split(text, '\n')) {
    auto f = split_ws(line);
    if (f.size() == 2) out.emplace(std::string(f[0]), std::string(f[1]));
  }
  return out;
}

Result<std::map<std::string, std::string>> cgroup_events(const std::string& path) {
  std::string text = TRY(read_file(path + "/cgroup.events"));
  return parse_cgroup_events(text);
}

static Result<bool> event_is(const std::string& path, const std::string& key) {
  auto ev = TRY(cgroup_events(path));
  auto it = ev.find(key);
  if (it == ev.end()) return failf("{}/cgroup.events: no '{}' line", path, key);
  return it->second == "1";
}

Result<bool> cgroup_frozen(const std::string& path) { return event_is(path, "frozen"); }
Result<bool> cgroup_populated(const std::string& path) { return event_is(path, "populated"); }

Result<bool> cgroup_freeze_requested(const std::string& path) {
  std::string text = TRY(read_file(path + "/cgroup.freeze"));
  return trim(text) == "1";
}

// Waits until cgroup.events has `key value`. The kernel notifies changes of
// cgroup.events as POLLPRI on an open fd of it; the periodic re-read also
// covers a change that happened between the read and the poll.
static Status wait_event(const std::string& path, const std::string& key, const std::string& value,
                         milliseconds timeout) {
  std::string file = path + "/cgroup.events";
  UniqueFd fd = TRY(open_fd(file, O_RDONLY));
  auto deadline = Clock::now() + timeout;
  for (;;) {
    char buf[512];
    ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
    if (n < 0) return sys_fail("read {}", file);
    auto ev = parse_cgroup_events(std::string_view(buf, static_cast<size_t>(n)));
    if (ev[key] == value) return {};
    auto now = Clock::now();
    if (now >= deadline)
      return failf("{}: still '{} {}' after {} ms", file, key, ev[key], timeout.count());
    auto left = std::chrono::duration_cast<milliseconds>(deadline - now).count();
    pollfd p{fd.get(), POLLPRI, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<long>(left, 50))) < 0 && errno != EINTR)
      return sys_fail("poll {}", file);
  }
}

Status cgroup_freeze(const std::string& path, milliseconds timeout) {
  TRY(write_file(path + "/cgroup.freeze", "1"));
  return wait_event(path, "frozen", "1", timeout);
}

Status cgroup_thaw(const std::string& path, milliseconds timeout) {
  TRY(write_file(path + "/cgroup.freeze", "0"));
  return wait_event(path, "frozen", "0", timeout);
}

Status cgroup_kill(const std::string& path) { return write_file(path + "/cgroup.kill", "1"); }

Status cgroup_wait_empty(const std::string& path, milliseconds timeout) {
  return wait_event(path, "populated", "0", timeout);
}

Result<std::vector<pid_t>> cgroup_procs(const std::string& path) {
  std::string file = path + "/cgroup.procs";
  std::string text = TRY(read_file(file));
  std::vector<pid_t> out;
  for (std::string_view line : split(text, '\n')) {
    line = trim(line);
    if (line.empty()) continue;
    auto v = parse_int(line);
    if (!v || *v <= 0) return failf("{}: bad line '{}'", file, line);
    out.push_back(static_cast<pid_t>(*v));
  }
  return out;
}

bool is_v1_freezer(const std::string& path) { return path_exists(path + "/freezer.state"); }

Result<FreezerState> freezer_state(const std::string& path) {
  std::string text = TRY(read_file(path + "/freezer.state"));
  std::string_view v = trim(text);
  if (v == "THAWED") return FreezerState::Thawed;
  if (v == "FREEZING") return FreezerState::Freezing;
  if (v == "FROZEN") return FreezerState::Frozen;
  return failf("{}/freezer.state: unknown state '{}'", path, v);
}

Status freezer_write(const std::string& path, bool frozen) {
  return write_file(path + "/freezer.state", frozen ? "FROZEN" : "THAWED");
}

Result<bool> freezer_parent_freezing(const std::string& path) {
  std::string text = TRY(read_file(path + "/freezer.parent_freezing"));
  return trim(text) == "1";
}

}  // namespace amber::sys
