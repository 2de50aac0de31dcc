// amber recover [NAME]
#include <memory>

#include "cli/verbs.h"
#include "recover/recover.h"

namespace amber::cli {

Action add_recover(CLI::App& app) {
  auto* sub = app.add_subcommand("recover",
                                 "Undo what a killed amber dump, check or restore left (every amber command does it "
                                 "first anyway)");
  auto name = std::make_shared<std::string>();
  sub->add_option("name", *name, "Only what concerns this container")->check(non_empty());
  return [name](Context& ctx) {
    auto done = recover::recover_dead(ctx.log, *name);
    if (!done) return report(ctx, done.error());
    for (const std::string& line : *done) fmt::print("{}\n", line);
    if (done->empty()) fmt::print("nothing to recover\n");
    return 0;
  };
}

}  // namespace amber::cli
