// amber exec [--env K=V]... NAME -- CMD [ARGS...]
#include <memory>

#include "cli/verbs.h"
#include "container/exec.h"

namespace amber::cli {

Action add_exec(CLI::App& app) {
  auto* sub = app.add_subcommand("exec", "Run CMD inside a running container; exits with CMD's status");
  auto o = std::make_shared<container::ExecOptions>();
  sub->add_option("--env", o->env, "Extra environment variable K=V for the command (repeatable)")
      ->allow_extra_args(false);
  sub->add_option("name", o->name, "Container name")->required();
  sub->add_option("command", o->argv, "CMD [ARGS...] (after --)")->required();
  return [o](Context& ctx) {
    auto status = container::exec_in_container(*o, ctx.log);
    if (!status) return report(ctx, status.error());
    return *status;
  };
}

}  // namespace amber::cli
