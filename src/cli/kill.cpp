// amber kill NAME
#include <memory>

#include "cli/verbs.h"
#include "container/control.h"

namespace amber::cli {

Action add_kill(CLI::App& app) {
  auto* sub = app.add_subcommand("kill", "Kill every task of a container and remove its cgroup and state");
  auto name = std::make_shared<std::string>();
  sub->add_option("name", *name, "Container name")->required();
  return [name](Context& ctx) {
    if (auto r = container::kill_container(*name, ctx.log); !r) return report(ctx, r.error());
    return 0;
  };
}

}  // namespace amber::cli
