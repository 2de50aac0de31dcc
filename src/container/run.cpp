#include "container/run.h"

#include <fcntl.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <ctime>
#include <utility>

#include "base/files.h"
#include "container/command.h"
#include "container/init.h"
#include "container/paths.h"
#include "container/spawn.h"
#include "container/state.h"
#include "kinds/ns/net_host.h"
#include "sys/cgroup.h"

namespace amber::container {

// <cgroup root>/NAME. The state directory already reserved the name, so an
// existing, empty cgroup of that name is a leftover of a crash: reuse the name.
Result<std::string> make_container_cgroup(const std::string& root, const std::string& name) {
  TRY(make_dirs(root));
  std::string cg = root + "/" + name;
  auto r = sys::cgroup_create(cg);
  if (!r && r.error().sys_errno == EEXIST) {
    auto populated = sys::cgroup_populated(cg);
    if (populated && !*populated && sys::cgroup_remove(cg)) r = sys::cgroup_create(cg);
  }
  if (!r) return std::unexpected(std::move(r.error()));
  return cg;
}

Result<UniqueFd> open_container_log(const std::string& dir) {
  return open_fd(log_file(dir), O_WRONLY | O_CREAT | O_APPEND, 0640);
}

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

// Everything a run made so far; undone by the destructor unless the run succeeded.
struct Made {
  Log& log;
  std::string state_dir;
  std::string cgroup;
  UniqueFd cgroup_fd;
  std::optional<Spawned> spawned;
  std::string host_link;
  bool keep = false;

  ~Made() {
    if (keep) return;
    if (spawned) abort_spawned(*spawned, cgroup_fd.get());
    if (auto r = kinds::unpublish_ports(host_link); !r) log.warn("cleanup: {}", r.error().message);
    if (auto r = kinds::remove_host_link(host_link); !r) log.warn("cleanup: {}", r.error().message);
    cgroup_fd.reset();
    if (!cgroup.empty())
      if (auto r = sys::cgroup_remove(cgroup); !r) log.warn("cleanup: {}", r.error().message);
    if (!state_dir.empty())
      if (auto r = remove_tree(state_dir); !r) log.warn("cleanup: {}", r.error().message);
  }
};

Result<RunOptions> validate(RunOptions o) {
  if (o.name.empty()) o.name = generate_name();
  TRY(check_name(o.name));
  if (o.uts != "private" && o.uts != "host") return bad_input("--uts {}: not private or host", o.uts);
  if (o.ipc != "private" && o.ipc != "host") return bad_input("--ipc {}: not private or host", o.ipc);
  if (o.uts == "host" && !o.hostname.empty()) return bad_input("--hostname needs a uts namespace of its own (not --uts host)");
  if (o.hostname.empty() && o.uts != "host") o.hostname = o.name;
  if (o.hostname.size() > 64) return bad_input("hostname '{}' is longer than 64 bytes", o.hostname);
  if (o.net != "none" && o.net != "host" && o.net != "veth" && !o.net.starts_with("veth="))
    return bad_input("--net {}: not none, host, veth or veth=ADDR/PREFIX", o.net);
  if (o.net.starts_with("veth=")) TRY(kinds::veth_addresses(o.net.substr(5)));
  if (!o.publish.empty() && !o.net.starts_with("veth")) return bad_input("--publish needs --net veth");
  for (const auto& p : o.publish) TRY(kinds::check_publish(p));
  if (o.argv.empty()) return bad_input("no command given (amber run [options] -- CMD [ARGS...])");
  for (const auto& kv : o.env) TRY(check_env_entry(kv));
  if (!o.rootfs.empty()) {
    char real[PATH_MAX];
    struct stat st {};
    if (!::realpath(o.rootfs.c_str(), real) || ::stat(real, &st) != 0) {
      int e = errno;
      return fail(Exit::BadInput, fmt::format("rootfs {}: {}", o.rootfs, std::strerror(e)), e);
    }
    if (!S_ISDIR(st.st_mode)) return bad_input("rootfs {}: not a directory", o.rootfs);
    // Resolved once, here: the init mounts on and pivots into this path,
    // whatever a symlink given as DIR points to later.
    std::string shown = std::exchange(o.rootfs, real);
    if (o.rootfs == "/") {
      o.rootfs.clear();  // the host's tree, then
    } else {
      TRY(check_mount_points(o.rootfs, shown));
    }
  }
  return o;
}



// `--tty`: a pty of the host's devpts; the master stays with the shim, the
// slave becomes the init's stdio. The size of the caller's terminal, if
// it has one (`amber attach` forwards later changes).
struct Console {
  UniqueFd master, slave;
};
Result<Console> open_console() {
  Console c;
  c.master = TRY_CTX(open_fd("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC), "terminal");
  int unlock = 0;
  if (::ioctl(c.master.get(), TIOCSPTLCK, &unlock) != 0) return sys_fail("terminal: unlock");
  int s = ::ioctl(c.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (s < 0) return sys_fail("terminal: open its slave");
  c.slave = UniqueFd(s);
  if (::fcntl(s, F_SETFD, FD_CLOEXEC) != 0) return sys_fail("terminal: close-on-exec");
  winsize ws{};
  if (::ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) (void)::ioctl(c.master.get(), TIOCSWINSZ, &ws);
  return c;
}

struct GoPipe {
  UniqueFd read, write;
};
Result<GoPipe> make_go_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return sys_fail("pipe");
  return GoPipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}


// The host side's /30 is chosen among addresses no host link has: one
// lock for the host, held until the new host side holds its address.
Result<UniqueFd> lock_host_addresses() {
  UniqueFd f = TRY(open_fd("/run/amber-net.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (::flock(f.get(), LOCK_EX) != 0) return sys_fail("lock /run/amber-net.lock");
  return f;
}

Result<VethState> give_veth(const RunOptions& o, Made& made) {
  UniqueFd lock = TRY(lock_host_addresses());
  img::HostLink h = TRY(kinds::plan_veth(o.name, o.net == "veth" ? "" : o.net.substr(5)));
  if (::if_nametoindex(h.host_name().c_str()) > 0)
    return failf("--net veth: the host already has a link named {}", h.host_name());
  for (const auto& p : o.publish) h.add_publish(p);
  made.host_link = h.host_name();
  TRY(kinds::make_veth(h, made.spawned->init_pid));
  TRY(kinds::publish_ports(h));
  return VethState{h.host_name(), h.host_address(), h.address(), h.name(), o.publish};
}

Result<ContainerState> describe(const RunOptions& o, const Spawned& sp, const std::string& cgroup) {
  ContainerState s;
  s.name = o.name;
  s.init = TRY_CTX(proc_ref(sp.init_pid), "init");
  s.shim = TRY_CTX(proc_ref(sp.shim_pid), "shim");
  s.cgroup = cgroup;
  s.namespaces = TRY(container_ns_inodes(sp.init_pid));
  s.command = o.argv;
  s.env = o.env;
  s.hostname = o.hostname;
  s.rootfs = o.rootfs;
  s.created = now_rfc3339();
  return s;
}

Status release(UniqueFd& go_write) {
  TRY(write_all(go_write.get(), "g", 1));
  go_write.reset();
  return {};
}

}  // namespace

Result<std::string> run_container(const RunOptions& opts, Log& log) {
  RunOptions o = TRY(validate(opts));
  std::string cg_root = TRY(cgroup_root());
  std::string what = fmt::format("container {}", o.name);

  Made made{log};
  made.state_dir = TRY(reserve_state_dir(o.name));
  made.cgroup = TRY_CTX(make_container_cgroup(cg_root, o.name), "{}", what);
  made.cgroup_fd = TRY_CTX(sys::cgroup_open(made.cgroup), "{}", what);
  UniqueFd log_fd = TRY_CTX(open_container_log(made.state_dir), "{}", what);
  GoPipe go = TRY_CTX(make_go_pipe(), "{}", what);

  Console console;
  if (o.tty) console = TRY_CTX(open_console(), "{}", what);

  InitConfig ic{o.hostname, o.rootfs, log_fd.get(), go.read.get(), console.slave.get(), o.argv, command_env(o.env)};
  ic.own_uts = o.uts != "host";
  ic.own_net = o.net != "host";
  // --net/--uts/--ipc host: that namespace is amber's own, the host's.
  uint64_t flags = kContainerNsFlags;
  if (!ic.own_net) flags &= ~static_cast<uint64_t>(CLONE_NEWNET);
  if (!ic.own_uts) flags &= ~static_cast<uint64_t>(CLONE_NEWUTS);
  if (o.ipc == "host") flags &= ~static_cast<uint64_t>(CLONE_NEWIPC);
  SpawnSpec spec{flags, {}, made.cgroup_fd.get(), exit_file(made.state_dir), {log_fd.get(), go.read.get()}};
  if (o.tty) {
    spec.init_fds.push_back(console.slave.get());
    spec.console_fd = console.master.get();
    spec.attach_path = attach_socket(made.state_dir);
  }
  made.spawned = TRY_CTX(spawn_init(spec, [&ic](int) { return run_init(ic); }), "{}", what);
  log.debug("{}: shim {}, init {}", what, made.spawned->shim_pid, made.spawned->init_pid);
  // amber keeps no copy of the container's log or of its end of the go pipe.
  log_fd.reset();
  go.read.reset();
  console = {};

  ContainerState st = TRY_CTX(describe(o, *made.spawned, made.cgroup), "{}", what);
  if (o.net.starts_with("veth")) st.veth = TRY_CTX(give_veth(o, made), "{}", what);
  TRY_CTX(write_state(made.state_dir, st), "{}", what);
  TRY_CTX(release(go.write), "{}: start init", what);
  TRY_CTX(wait_init_started(*made.spawned), "{}", what);
  made.keep = true;
  return o.name;
}

}  // namespace amber::container
