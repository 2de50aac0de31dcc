// amber check NAME | --pid PID [--json] [--external SPEC]... [--tcp-established]
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "base/faults.h"
#include "cli/verbs.h"
#include "container/paths.h"
#include "container/state.h"
#include "dump/blockers.h"
#include "recover/journal.h"
#include "seal/check.h"
#include "seal/report.h"
#include "sys/procfs.h"

namespace amber::cli {

namespace {

struct CheckArgs {
  std::string name;
  pid_t pid = 0;
  bool json = false;
  std::vector<std::string> externals;
  bool tcp_established = false;
};

// The check's steps that can fail after the container is held; the fault
// test arms each and expects the container released untouched.
constexpr std::array<const char*, 2> kFaultPoints = {"check.held", "check.detected"};

// Test-only (AMBER_PAUSE_AT=POINT): waits at POINT, the container held,
// until SIGINT/SIGTERM arrives (or 30 s), so a test can interrupt a check
// at its worst moment.
Status maybe_pause(const char* point, const seal::InterruptGuard& guard) {
  const char* at = std::getenv("AMBER_PAUSE_AT");
  if (!at || std::strcmp(at, point) != 0) return {};
  fmt::print(stderr, "paused at {}\n", point);
  std::fflush(stderr);
  for (int i = 0; i < 3000; ++i) {
    TRY(guard.check());
    ::usleep(10000);
  }
  return {};
}

Result<seal::Report> run_check(const CheckArgs& a, Faults& faults) {
  std::vector<seal::External> externals = TRY(seal::parse_externals(a.externals));
  seal::Target target;
  std::string rootfs;  // of an amber container (not for --pid)
  std::optional<img::HostLink> host;  // its --net veth link
  if (a.pid) {
    target = TRY(seal::target_for_pid(a.pid));
  } else {
    container::ContainerState st = TRY(container::load_state(a.name));
    auto live = container::live_status(st);
    if (live.kind == container::LiveStatus::Kind::Stopped)
      return bad_input("container {} is {}: nothing to check", a.name, live.text());
    if (live.kind == container::LiveStatus::Kind::Frozen)
      return bad_input("container {} is frozen by someone else (amber thaw {} releases it)", a.name, a.name);
    target = seal::target_for_container(st);
    rootfs = st.rootfs;
    host = container::host_link(st);
  }
  // What a SIGKILL of amber would leave, for the next command (recover/).
  recover::Journal journal = TRY(recover::Journal::begin(jrn::Journal::CHECK, target.name));
  // SIGINT/SIGTERM wait until the container is released (seal/hold.h).
  seal::InterruptGuard guard = TRY(seal::InterruptGuard::block());
  seal::Hold hold = TRY_CTX(seal::hold_target(target, &guard, &journal), "hold {}", target.name);
  TRY(faults.hit("check.held"));
  TRY(maybe_pause("check.held", guard));
  seal::Report r = TRY(seal::check_held(hold, target, externals));
  TRY(faults.hit("check.detected"));
  // A sealed container may still hold what amber cannot dump yet: all of it
  // now, so that a user learns it before a dump (exit 4).
  if (r.sealed()) {
    std::map<pid_t, std::vector<pid_t>> held;
    for (pid_t tgid : hold.processes()) held[tgid] = hold.threads(tgid);
    kinds::Blockers blockers;
    auto tree = TRY(dump::tree_or_blocker(held, target.init, blockers));
    const std::string log = a.pid ? "" : container::log_file(container::state_dir(a.name));
    // A process of another tool (runc...) in a mount namespace of its own:
    // its mount table too, its root found from the host's mounts.
    kinds::MountScope mounts = dump::mount_scope(rootfs, externals);
    bool own_mnt_ns = !a.pid;
    if (a.pid) {
      mounts.host_tree = false;
      own_mnt_ns = TRY(sys::read_ns_inode(a.pid, "mnt")) != TRY(sys::read_ns_inode(::getpid(), "mnt"));
    }
    std::optional<kinds::ConsoleRef> console;
    if (!a.pid && !target.shims.empty()) console = TRY(kinds::find_console(target.shims.front().pid));
    // The accepted leaks as the dump would record them (or refuse them).
    const dump::Declared declared = dump::declared_externals(r.leaks, blockers);
    dump::BlockerScan scan;
    scan.externals = &declared;
    scan.tcp_established = a.tcp_established;
    scan.net = true;
    scan.host = host ? &*host : nullptr;
    const kinds::Blockers found =
        TRY(dump::find_blockers(tree, log, console ? &*console : nullptr, own_mnt_ns ? &mounts : nullptr, scan));
    for (const std::string& l : found.lines()) blockers.add(l);
    r.unsupported = blockers.lines();
  }
  TRY_CTX(hold.release(), "release {}", target.name);
  TRY(guard.check());
  return r;
}

}  // namespace

Action add_check(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "check", "Prove a container shares nothing with the outside and list what amber cannot dump yet (exit 0 sealed and "
      "dumpable, 3 leaks found, 4 sealed but holding unsupported objects)");
  auto a = std::make_shared<CheckArgs>();
  sub->add_option("name", a->name, "Container name (amber run)");
  auto* pid = sub->add_option("--pid", a->pid, "Instead of NAME: the init of any pid namespace (unshare, runc, ...)");
  sub->add_flag("--json", a->json, "Print the report as JSON");
  auto list = std::make_shared<bool>(false);
  sub->add_flag("--list-fault-points", *list, "Print the names of the check's fault points (for tests) and exit");
  sub->add_option("--external", a->externals,
                  "Accept a declared leak (repeatable): a namespace type (pid uts ipc net mnt cgroup user time), "
                  "file:PATH, fifo:PATH, pipe:INODE, unix:INODE, shm:SHMID, mapping:PATH or mount:PATH");
  sub->add_flag("--tcp-established", a->tcp_established,
                "As for amber dump: with --external net, established TCP connections are kept, not refused");
  return [a, list, pid](Context& ctx) {
    if (*list) {
      for (const char* p : kFaultPoints) fmt::print("{}\n", p);
      return 0;
    }
    if (pid->count() && a->pid <= 0)
      return report(ctx, Error{Exit::BadInput, 0, fmt::format("--pid {}: not a process id", a->pid)});
    if (a->name.empty() == (a->pid == 0))
      return report(ctx, Error{Exit::BadInput, 0, "usage: amber check NAME | --pid PID [--json] [--external SPEC]"});
    Faults faults = Faults::from_env();  // test-only (base/faults.h)
    auto r = run_check(*a, faults);
    if (!r) return report(ctx, r.error());
    fmt::print("{}\n", a->json ? seal::format_json(*r) : seal::format_text(*r));
    if (!r->sealed()) return static_cast<int>(Exit::NotSealed);
    return r->unsupported.empty() ? 0 : static_cast<int>(Exit::Unsupported);
  };
}

}  // namespace amber::cli
