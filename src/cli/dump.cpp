// amber dump NAME -D DIR [--leave-running] [--external SPEC]... [--tcp-established] [--key FILE] [--json] [--list-fault-points]
#include <cstdlib>
#include <memory>

#include "cli/summary.h"
#include "cli/verbs.h"
#include "dump/dump.h"

namespace amber::cli {

Action add_dump(CLI::App& app) {
  auto* sub = app.add_subcommand("dump", "Checkpoint a container into a new image directory (the container is "
                                          "killed afterwards unless --leave-running)");
  auto opts = std::make_shared<dump::DumpOptions>();
  auto list = std::make_shared<bool>(false);
  sub->add_option("name", opts->name, "Container name");
  sub->add_option("-D,--images-dir", opts->dir, "Image directory to create (must not exist)")->check(path_value());
  sub->add_flag("--leave-running", opts->leave_running, "Release the container after the dump instead of killing it");
  auto externals = std::make_shared<std::vector<std::string>>();
  sub->add_option("--external", *externals,
                  "Accept a declared leak (as for amber check; repeatable): a net, uts, ipc or cgroup namespace or a pipe, "
                  "fifo or file description is recorded in the image and given back by amber restore --external");
  sub->add_flag("--tcp-established", opts->tcp_established,
                "With --external net: keep the container's established TCP connections (refused without it)");
  sub->add_option("--key", opts->key_file,
                  "Authenticate the image with this key file (32 random bytes, mode 0600) instead of the host's "
                  "/var/lib/amber/image.key")
      ->check(path_value());
  auto json = std::make_shared<bool>(false);
  sub->add_flag("--json", *json, "Print the summary as one JSON object (name, dir, processes, threads, image_bytes, "
                                  "total_ms, frozen_ms)");
  sub->add_flag("--list-fault-points", *list, "Print the names of the dump's fault points (for tests) and exit");
  return [opts, list, externals, json](Context& ctx) {
    if (*list) {
      for (const char* p : dump::kFaultPoints) fmt::print("{}\n", p);
      return 0;
    }
    if (opts->name.empty() || opts->dir.empty())
      return report(ctx, Error{Exit::BadInput, 0, "usage: amber dump NAME -D DIR [--leave-running]"});
    auto ext = seal::parse_externals(*externals);
    if (!ext) return report(ctx, ext.error());
    opts->externals = std::move(*ext);
    // Test-only switch (fault-injection tests): fail at the named step.
    Faults faults = Faults::from_env();  // test-only (base/faults.h)
    auto r = dump::dump_container(*opts, ctx.log, faults);
    if (!r) return report(ctx, r.error());
    return print_summary(*json, dump::format_summary(*r),
                         {{"name", r->name}, {"dir", r->dir}, {"processes", r->processes}, {"threads", r->threads},
                          {"image_bytes", r->image_bytes}, {"total_ms", r->total_ms}, {"frozen_ms", r->frozen_ms}});
  };
}

}  // namespace amber::cli
