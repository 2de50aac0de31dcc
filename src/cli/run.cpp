// amber run [--tty] [--name NAME] [--hostname H] [--rootfs DIR] [--env K=V]... [--] CMD [ARGS...]
#include <memory>

#include "cli/verbs.h"
#include "container/run.h"

namespace amber::cli {

Action add_run(CLI::App& app) {
  auto* sub = app.add_subcommand("run", "Start CMD as the init of a new container; prints its name");
  auto o = std::make_shared<container::RunOptions>();
  // As `docker run`: amber's options end at the command, so `amber run ls -l /`
  // runs `ls -l /` (`--` is still accepted before CMD).
  sub->positionals_at_end();
  sub->add_option("--name", o->name, "Container name, [A-Za-z0-9_.-]{1,64} (default: amber-XXXXXX)")
      ->check(non_empty());
  sub->add_option("--hostname", o->hostname, "Hostname inside the container (default: the name)")
      ->check(non_empty());
  sub->add_option("--rootfs", o->rootfs,
                  "Directory to use as the container's root; its proc, dev and tmp must exist "
                  "(default: the host's tree)")
      ->check(path_value());
  sub->add_option("--env", o->env, "Environment variable K=V for the command (repeatable)")
      ->allow_extra_args(false);
  sub->add_flag("-t,--tty", o->tty,
                "Give the container a terminal: its init's stdio and controlling terminal (reach it with "
                "`amber attach NAME`; the log stays empty). It is dumped and restored with it (detach first)");
  sub->add_option("command", o->argv, "CMD [ARGS...] (after --)")->required();
  return [o](Context& ctx) {
    auto name = container::run_container(*o, ctx.log);
    if (!name) return report(ctx, name.error());
    fmt::print("{}\n", *name);
    return 0;
  };
}

}  // namespace amber::cli
