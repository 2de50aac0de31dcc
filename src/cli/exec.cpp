// amber exec [-d] [--preserve-fds N] [--env K=V]... NAME -- CMD [ARGS...]
#include <memory>

#include "cli/verbs.h"
#include "container/exec.h"

namespace amber::cli {

Action add_exec(CLI::App& app) {
  auto* sub = app.add_subcommand("exec", "Run CMD inside a running container; exits with CMD's status");
  auto o = std::make_shared<container::ExecOptions>();
  sub->add_flag("-d,--detach", o->detach,
                "Run CMD in the background (stdin /dev/null, output to the container's log); print its pid in the "
                "container");
  sub->add_option("--preserve-fds", o->preserve_fds, "Pass fds 3 .. 3+N-1 on to CMD (every other fd but 0-2 is closed)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--env", o->env, "Extra environment variable K=V for the command (repeatable)")
      ->allow_extra_args(false);
  sub->add_option("name", o->name, "Container name")->required();
  sub->add_option("command", o->argv, "CMD [ARGS...] (after --)")->required();
  return [o](Context& ctx) {
    auto out = container::exec_in_container(*o, ctx.log);
    if (!out) return report(ctx, out.error());
    if (out->detached_pid > 0) fmt::print("{}\n", out->detached_pid);
    return out->status;
  };
}

}  // namespace amber::cli
