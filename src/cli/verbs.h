// One file per verb: each adds its CLI11 subcommand and returns the action to
// run when that subcommand was given. The action returns the exit status.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/log.h"

namespace amber::cli {

// What every verb gets: the logger configured from the global options.
struct Context {
  Log& log;
};

using Action = std::function<int(Context&)>;

// Option validators; a value they refuse is a usage error (exit 2, one line
// "amber VERB: error: --OPTION: why").
// An option that is given must have a value: "--name ''" would otherwise read
// as "not given" (a generated name, the host's tree).
CLI::Validator non_empty();
// A path the kernel can take: not empty, shorter than PATH_MAX, no name in it
// longer than NAME_MAX. Refused here, not as some later call's ENAMETOOLONG (exit 1).
CLI::Validator path_value();

// Reports `e` as one line on stderr ("amber: <verb>: <message>") and returns its exit status.
int report(Context& ctx, const Error& e);

Action add_run(CLI::App& app);
Action add_ps(CLI::App& app);
Action add_exec(CLI::App& app);
Action add_kill(CLI::App& app);
Action add_logs(CLI::App& app);
Action add_attach(CLI::App& app);
Action add_thaw(CLI::App& app);
Action add_show(CLI::App& app);
Action add_check(CLI::App& app);
Action add_dump(CLI::App& app);
Action add_restore(CLI::App& app);
Action add_recover(CLI::App& app);
Action add_swrk(CLI::App& app);

// amber run as `criu` (argv[0]'s name): an exit status, or nullopt when the
// arguments are amber's own verb (criu swrk N is amber swrk N).
std::optional<int> as_criu(std::vector<std::string>& args);

}  // namespace amber::cli
