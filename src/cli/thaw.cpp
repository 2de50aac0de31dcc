// amber thaw NAME
#include <memory>

#include "cli/verbs.h"
#include "container/control.h"

namespace amber::cli {

Action add_thaw(CLI::App& app) {
  auto* sub = app.add_subcommand("thaw", "Write cgroup.freeze=0 for a container (e.g. one a crash left frozen)");
  auto name = std::make_shared<std::string>();
  sub->add_option("name", *name, "Container name")->required();
  return [name](Context& ctx) {
    auto was = container::thaw_container(*name, ctx.log);
    if (!was) return report(ctx, was.error());
    if (*was)
      fmt::print("container {} thawed\n", *name);
    else
      fmt::print("container {} was not frozen (cgroup.freeze=0 written anyway)\n", *name);
    return 0;
  };
}

}  // namespace amber::cli
