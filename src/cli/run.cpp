// amber run [--tty] [--net none|host|veth[=ADDR/PREFIX]] [--uts private|host] [--ipc private|host] [--publish HOSTPORT:CTRPORT]... [--name NAME] [--hostname H] [--rootfs DIR] [--env K=V]... [--] CMD [ARGS...]
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
  sub->add_option("--net", o->net,
                  "none: loopback only (default); veth[=ADDR/PREFIX]: a veth pair to the host, the host side "
                  "am-NAME, the container's eth0 at ADDR/PREFIX (default: a free /30 of 10.200.0.0/16) with a "
                  "default route through the host side; host: the host's net namespace (a leak: dump it with "
                  "--external net)");
  sub->add_option("--uts", o->uts,
                  "private (default): a uts namespace of its own; host: the host's (no --hostname; a leak: dump it "
                  "with --external uts)");
  sub->add_option("--ipc", o->ipc,
                  "private (default): an ipc namespace of its own; host: the host's (a leak: dump it with --external "
                  "ipc)");
  sub->add_option("--publish", o->publish,
                  "HOSTPORT:CTRPORT (repeatable, with --net veth): TCP to the host's HOSTPORT goes to the "
                  "container's CTRPORT (nftables DNAT on the host, removed with the container)")
      ->allow_extra_args(false);
  sub->add_option("command", o->argv, "CMD [ARGS...] (after --)")->required();
  return [o](Context& ctx) {
    auto name = container::run_container(*o, ctx.log);
    if (!name) return report(ctx, name.error());
    fmt::print("{}\n", *name);
    return 0;
  };
}

}  // namespace amber::cli
