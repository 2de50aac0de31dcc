// amber: checkpoint and restore whole Linux containers.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli/verbs.h"
#include "recover/recover.h"

namespace amber::cli {

int report(Context& ctx, const Error& e) {
  ctx.log.error("{}", e.message);
  return e.exit_code() == 0 ? 1 : e.exit_code();
}

}  // namespace amber::cli

int main(int argc, char** argv) {
  using namespace amber;
  // amber as criu (a link named criu): the runtimes' way in (cli/as_criu.cpp).
  std::vector<std::string> args(argv, argv + argc);
  if (!args.empty() && std::string_view(args[0]).substr(args[0].rfind('/') + 1) == "criu") {
    if (auto status = cli::as_criu(args)) return *status;
    args[0] = "amber";
  }
  CLI::App app{"amber: checkpoint and restore whole Linux containers"};
  app.require_subcommand(1);
  bool verbose = false;
  std::string log_file;
  app.add_flag("-v,--verbose", verbose, "Print progress and debug messages");
  app.add_option("--log-file", log_file, "Also write every message to this file")->check(cli::path_value());

  // The verb table: one line per verb (src/cli/<verb>.cpp). Every verb but
  // show acts on containers, /run/amber, cgroups or namespaces: root only.
  struct Verb {
    CLI::App* sub;
    cli::Action action;
    bool needs_root;
  };
  std::vector<Verb> verbs;
  auto add = [&](cli::Action (*adder)(CLI::App&), bool needs_root = true) {
    auto all = [](CLI::App*) { return true; };
    size_t before = app.get_subcommands(all).size();
    cli::Action a = adder(app);
    verbs.push_back({app.get_subcommands(all).at(before), std::move(a), needs_root});
  };
  add(cli::add_show, /*needs_root=*/false);  // reads an image directory only
  add(cli::add_run);
  add(cli::add_ps);
  add(cli::add_exec);
  add(cli::add_kill);
  add(cli::add_logs);
  add(cli::add_attach);
  add(cli::add_thaw);
  add(cli::add_check);
  add(cli::add_dump);
  add(cli::add_restore);
  add(cli::add_recover);
  add(cli::add_swrk);

  try {
    // CLI11 takes the arguments last first, without the program name.
    std::vector<std::string> rev(args.rbegin(), args.rend() - 1);
    app.parse(rev);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);  // prints help, 0
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // DESIGN.md: CLI parsing errors are exit 2, not CLI11's own codes, and
    // one line like every other error.
    std::string who = "amber";
    std::string hint;
    for (const Verb& v : verbs) {
      if (!v.sub->parsed()) continue;
      who += " " + v.sub->get_name();
      // The usual cause: a command's own options taken for amber's.
      if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
        if (v.sub->get_name() == "exec") hint = " (use `amber exec [OPTIONS] NAME -- CMD ARGS...`)";
        if (v.sub->get_name() == "run") hint = " (use `amber run [OPTIONS] -- CMD ARGS...`)";
      }
    }
    std::fprintf(stderr, "%s: error: %s%s\n", who.c_str(), e.what(), hint.c_str());
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
  for (Verb& v : verbs) {
    if (!v.sub->parsed()) continue;
    log.set_prefix("amber " + v.sub->get_name());
    // Before anything is opened: otherwise the first refusal is some
    // "open /run/amber: Permission denied" (exit 1).
    if (v.needs_root && ::geteuid() != 0) return cli::report(ctx, Error{Exit::BadInput, 0, "amber must run as root"});
    // What a killed amber left is undone before anything else (recover/).
    if (v.needs_root && v.sub->get_name() != "recover") {
      auto done = recover::recover_dead(log);
      if (!done) log.warn("{}", done.error().message);
      for (const std::string& line : done ? *done : std::vector<std::string>{}) log.warn("recovered: {}", line);
    }
    return v.action(ctx);
  }
  return 2;
}
