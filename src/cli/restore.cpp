// amber restore -D DIR [--name NEW] [--rootfs DIR] [--external SPEC]... [--no-verify] [--key FILE] [--json] [--list-fault-points]
#include <cstdlib>
#include <memory>

#include "cli/summary.h"
#include "cli/verbs.h"
#include "restore/restore.h"

namespace amber::cli {

Action add_restore(CLI::App& app) {
  auto* sub = app.add_subcommand("restore", "Restore a container from an image directory");
  auto opts = std::make_shared<restore::RestoreOptions>();
  auto list = std::make_shared<bool>(false);
  auto json = std::make_shared<bool>(false);
  sub->add_option("-D,--images-dir", opts->dir, "Image directory written by amber dump")->check(path_value());
  sub->add_option("--name", opts->name, "Name of the restored container (default: the name in the image)")
      ->check(non_empty());
  sub->add_option("--rootfs", opts->rootfs,
                  "The container's rootfs is this directory now (absolute, no symlink on the way; default: the one "
                  "the image records)")
      ->check(path_value());
  sub->add_flag("--no-verify", opts->no_verify,
                "Skip comparing the rebuilt tasks with the image before they run (see README: restore verification)");
  sub->add_option("--key", opts->key_file,
                  "The image was made with this key file (32 random bytes, mode 0600) instead of with the host's "
                  "/var/lib/amber/image.key")
      ->check(path_value());
  auto externals = std::make_shared<std::vector<std::string>>();
  sub->add_option("--external", *externals,
                  "Give back an external the image declares (repeatable; amber show lists them): net:PATH|PID, "
                  "uts:PATH|PID, ipc:PATH|PID (the namespace to join: a namespace file or a process's), "
                  "pipe:INODE=fd:N, fifo:PATH=fd:N, file:PATH=fd:N (fd N of amber restore is that description)");
  sub->add_flag("--json", *json,
                "Print the summary as one JSON object (name, dir, pid, processes, threads, image_bytes, total_ms)");
  sub->add_flag("--list-fault-points", *list, "Print the names of the restore's fault points (for tests) and exit");
  return [opts, list, externals, json](Context& ctx) {
    if (*list) {
      for (const char* p : restore::kFaultPoints) fmt::print("{}\n", p);
      return 0;
    }
    if (opts->dir.empty()) return report(ctx, Error{Exit::BadInput, 0, "usage: amber restore -D DIR [--name NEW]"});
    auto bound = restore::parse_bindings(*externals);
    if (!bound) return report(ctx, bound.error());
    opts->externals = std::move(*bound);
    Faults faults = Faults::from_env();  // test-only (base/faults.h)
    auto r = restore::restore_container(*opts, ctx.log, faults);
    if (!r) return report(ctx, r.error());
    return print_summary(*json, restore::format_summary(*r),
                         {{"name", r->name}, {"dir", r->dir}, {"pid", r->pid}, {"processes", r->processes},
                          {"threads", r->threads}, {"image_bytes", r->image_bytes}, {"total_ms", r->total_ms}});
  };
}

}  // namespace amber::cli
