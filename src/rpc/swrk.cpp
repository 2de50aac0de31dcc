#include "rpc/swrk.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "base/faults.h"
#include "base/files.h"
#include "criu_rpc.pb.h"
#include "dump/dump.h"
#include "restore/restore.h"
#include "rpc/channel.h"
#include "rpc/criu_files.h"
#include "rpc/options.h"

namespace amber::rpc {
namespace {

using criurpc::criu_req;
using criurpc::criu_req_type;
using criurpc::criu_resp;

// go-criu reads a response into 8 KiB: the message is cut well below that
// (the whole report is in the log file).
constexpr size_t kMaxErrmsg = 6000;

criu_resp reply(criu_req_type type) {
  criu_resp r;
  r.set_type(type);
  r.set_success(true);
  return r;
}

criu_resp failure(criu_req_type type, const Error& e) {
  criu_resp r;
  r.set_type(type);
  r.set_success(false);
  r.set_cr_errno(e.sys_errno != 0 ? e.sys_errno : e.exit_code());
  std::string msg = e.message;
  if (msg.size() > kMaxErrmsg) msg = msg.substr(0, kMaxErrmsg) + "\n... (the whole report is in the log file)";
  r.set_cr_errmsg(msg);
  return r;
}

// Every line of a failure in the log as "Error: ...": runc quotes the log
// lines that contain "Error" (and the five before each) on its stderr.
void log_failure(Log& log, const Error& e) {
  for (std::string_view line : split(e.message, '\n')) log.error("Error: {}", line);
}

// One notify script (CRIU's notify_scripts): the runtime does its part and
// answers with notify_success.
Status notify(Channel& ch, bool enabled, const char* script, pid_t pid, Log& log) {
  if (!enabled) return {};
  log.info("notify {}{}", script, pid > 0 ? fmt::format(" (pid {})", pid) : "");
  criu_resp r = reply(criurpc::NOTIFY);
  r.mutable_notify()->set_script(script);
  if (pid > 0) r.mutable_notify()->set_pid(pid);
  TRY(ch.send(r));
  auto req = TRY(ch.recv());
  if (!req) return failf("the runtime closed the connection at the {} notification", script);
  if (req->type() != criurpc::NOTIFY)
    return failf("the runtime answered the {} notification with a {} request", script,
                 criurpc::criu_req_type_Name(req->type()));
  if (!req->notify_success()) return failf("the runtime failed the {} notification", script);
  return {};
}

void log_externals(const Externals& e, Log& log) {
  for (const seal::External& x : e.accepted) log.info("declared external: {}", x.spec());
  // Given back at the restore only if the image records them (amber's
  // externals), like CRIU ignores an inherit_fd no image file asks for.
  for (const auto& [key, fd] : e.inherit_fds) log.info("inherit_fd {} as fd {}", key, fd);
  for (const auto& [ns, file] : e.join_ns) log.info("join_ns {} {}", ns, file);
  for (const auto& [at, source] : e.mounts) log.info("ext_mnt {} from {}", at, source);
}

// The log file in the work directory first: a refusal of the options is
// reported there too.
Result<Dirs> open_dirs(const Channel& ch, const criurpc::criu_opts& o, Log& log) {
  Dirs dirs = TRY(map_dirs(o, ch.peer()));
  TRY(log.open_file(dirs.log_path()));
  log.info("runtime pid {}, image directory {}", ch.peer(), dirs.images.path);
  return dirs;
}

// A runtime reuses its image directory (podman's checkpoint/ of a container
// restored with --keep and checkpointed again), where CRIU overwrites its
// files. amber's earlier image there is set aside while the new one is made:
// removed once that is complete, put back if the dump fails (the earlier
// checkpoint stays whole). Whether there was one.
Result<bool> set_aside(const std::string& dir, const std::string& aside) {
  if (!path_exists(dir)) return false;
  if (path_exists(aside)) TRY_CTX(remove_tree(aside), "a dump's earlier image left aside");
  if (::rename(dir.c_str(), aside.c_str()) != 0) return sys_fail("{}: set the earlier image aside", dir);
  return true;
}

Result<criu_resp> do_dump(Channel& ch, const criurpc::criu_opts& o, Log& log) {
  const Dirs dirs = TRY(open_dirs(ch, o, log));
  TRY(check_options(o, criurpc::DUMP));
  DumpRequest d = TRY(map_dump(o, dirs));
  log_externals(d.externals, log);
  const bool scripts = o.notify_scripts();
  // CRIU's inventory.img, which podman takes for "a complete checkpoint",
  // once amber's image is complete (post-dump): a failure from here on
  // fails the dump, the container runs on, and the inventory goes again.
  const std::string inventory = dirs.images.path + "/" + kInventoryFile;
  d.opts.notify = [&](const char* script) -> Status {
    if (std::string_view(script) == "post-dump") TRY_CTX(write_inventory(dirs.images.path), "{}", inventory);
    return notify(ch, scripts, script, 0, log);
  };
  const std::string aside = d.opts.dir + ".earlier";
  const bool had_earlier = TRY(set_aside(d.opts.dir, aside));
  Faults faults = Faults::from_env();  // test-only (base/faults.h)
  auto done = dump::dump_container(d.opts, log, faults);
  if (!done) {
    if (!had_earlier) {
      ::unlink(inventory.c_str());
    } else if (::rename(aside.c_str(), d.opts.dir.c_str()) != 0) {
      log.warn("{}: putting the earlier image back: {}", d.opts.dir, std::strerror(errno));
    }
    return std::unexpected(std::move(done.error()));
  }
  if (had_earlier)
    if (auto rm = remove_tree(aside); !rm) log.warn("removing the earlier image: {}", rm.error().message);
  const dump::DumpSummary& sum = *done;
  log.info("{}", dump::format_summary(sum));
  // What a runtime shows of the dump (podman --print-stats, --export):
  // the dump is done whether or not it can be written.
  if (auto w = write_dump_stats(dirs.work_path(), sum); !w) log.warn("{}: {}", kDumpStatsFile, w.error().message);
  criu_resp r = reply(criurpc::DUMP);
  r.mutable_dump()->set_restored(false);
  return r;
}

Result<criu_resp> do_restore(Channel& ch, const criurpc::criu_opts& o, Log& log) {
  const Dirs dirs = TRY(open_dirs(ch, o, log));
  TRY(check_options(o, criurpc::RESTORE));
  RestoreRequest q = TRY(map_restore(o, dirs));
  log_externals(q.externals, log);
  const bool scripts = o.notify_scripts();
  pid_t init = 0;
  q.opts.notify = [&](const char* script, pid_t pid) {
    init = pid;
    return notify(ch, scripts, script, pid, log);
  };
  Faults faults = Faults::from_env();  // test-only (base/faults.h)
  const restore::RestoreSummary sum = TRY(restore::restore_container(q.opts, log, faults));
  log.info("{}, init pid {}", restore::format_summary(sum), init);
  if (auto w = write_restore_stats(dirs.work_path(), sum); !w) log.warn("{}: {}", kRestoreStatsFile, w.error().message);
  criu_resp r = reply(criurpc::RESTORE);
  r.mutable_restore()->set_pid(init);
  return r;
}

criu_resp version() {
  criu_resp r = reply(criurpc::VERSION);
  criurpc::criu_version& v = *r.mutable_version();
  v.set_major_number(kCriuMajor);
  v.set_minor_number(kCriuMinor);
  v.set_name("amber");
  return r;
}

// Every feature asked about is answered, and amber has none of them
// (memory tracking, lazy pages, pidfd store: pre-dumps and lazy restores).
criu_resp features(const criu_req& req) {
  criu_resp r = reply(criurpc::FEATURE_CHECK);
  criurpc::criu_features& f = *r.mutable_features();
  if (req.features().has_mem_track()) f.set_mem_track(false);
  if (req.features().has_lazy_pages()) f.set_lazy_pages(false);
  if (req.features().has_pidfd_store()) f.set_pidfd_store(false);
  return r;
}

const char* refusal(criu_req_type t) {
  switch (t) {
    case criurpc::PRE_DUMP:
    case criurpc::SINGLE_PRE_DUMP: return "amber has no incremental pre-dumps: dump the container whole";
    case criurpc::PAGE_SERVER:
    case criurpc::PAGE_SERVER_CHLD: return "amber has no page server";
    case criurpc::CPUINFO_DUMP:
    case criurpc::CPUINFO_CHECK: return "amber keeps no CPU information file";
    case criurpc::WAIT_PID: return "amber starts no process to wait for";
    default: return "not a request amber serves";
  }
}

}  // namespace

int serve(int fd, Log& log) {
  auto ch = Channel::adopt(fd);
  if (!ch) {
    log.error("{}", ch.error().message);
    return ch.error().exit_code();
  }
  for (;;) {
    auto got = ch->recv();
    if (!got) {
      log.error("{}", got.error().message);
      return got.error().exit_code();
    }
    if (!*got) return 0;  // the runtime is done
    const criu_req& req = **got;
    const criu_req_type type = req.type();
    Result<criu_resp> r = criu_resp{};
    switch (type) {
      case criurpc::VERSION: r = version(); break;
      case criurpc::FEATURE_CHECK: r = features(req); break;
      case criurpc::CHECK: r = reply(criurpc::CHECK); break;
      case criurpc::DUMP: r = do_dump(*ch, req.opts(), log); break;
      case criurpc::RESTORE: r = do_restore(*ch, req.opts(), log); break;
      default:
        r = std::unexpected(Error{Exit::Unsupported, 0, fmt::format("{} request: {}", criurpc::criu_req_type_Name(type),
                                                                      refusal(type))});
    }
    int status = 0;
    if (!r) {
      log_failure(log, r.error());
      status = r.error().exit_code();
      r = failure(type, r.error());
    }
    if (auto sent = ch->send(*r); !sent) {
      log.error("{}", sent.error().message);
      return sent.error().exit_code();
    }
    // A dump or restore is the engine's last request (the restored tree is
    // the runtime's now); others end it unless the runtime keeps it open.
    if (status != 0 || type == criurpc::DUMP || type == criurpc::RESTORE || !req.keep_open()) return status;
  }
}

}  // namespace amber::rpc
