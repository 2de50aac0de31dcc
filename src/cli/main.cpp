// amber: checkpoint and restore whole Linux containers.
#include <cstdio>
#include <vector>

#include "cli/verbs.h"

namespace amber::cli {

int report(Context& ctx, const Error& e) {
  ctx.log.error("{}", e.message);
  return e.exit_code() == 0 ? 1 : e.exit_code();
}

}  // namespace amber::cli

int main(int argc, char** argv) {
  using namespace amber;
  CLI::App app{"amber: checkpoint and restore whole Linux containers"};
  app.require_subcommand(1);
  bool verbose = false;
  std::string log_file;
  app.add_flag("-v,--verbose", verbose, "Print progress and debug messages");
  app.add_option("--log-file", log_file, "Also write every message to this file");

  // The verb table: one line per verb (src/cli/<verb>.cpp).
  std::vector<std::pair<CLI::App*, cli::Action>> verbs;
  auto add = [&](cli::Action (*adder)(CLI::App&)) {
    auto all = [](CLI::App*) { return true; };
    size_t before = app.get_subcommands(all).size();
    cli::Action a = adder(app);
    verbs.emplace_back(app.get_subcommands(all).at(before), std::move(a));
  };
  // (verbs are added here as they land)
  add(cli::add_show);
  add(cli::add_run);
  add(cli::add_ps);
  add(cli::add_exec);
  add(cli::add_kill);
  add(cli::add_logs);
  add(cli::add_thaw);
  add(cli::add_check);
  add(cli::add_dump);
  add(cli::add_restore);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);  // prints help, 0
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // DESIGN.md: CLI parsing errors are exit 2, not CLI11's own codes.
    app.exit(e);
    return 2;
  }

  Log log;
  if (verbose) log.set_level(Level::Debug);
  if (!log_file.empty()) {
    if (auto r = log.open_file(log_file); !r) {
      std::fprintf(stderr, "amber: error: %s\n", r.error().message.c_str());
      return 2;
    }
  }
  cli::Context ctx{log};
  for (auto& [sub, action] : verbs) {
    if (sub->parsed()) {
      log.set_prefix("amber " + sub->get_name());
      return action(ctx);
    }
  }
  return 2;
}
