// amber ps: one line per container.
#include <algorithm>
#include <string>
#include <vector>

#include "cli/verbs.h"
#include "container/command.h"
#include "container/state.h"

namespace amber::cli {

namespace {
using Row = std::vector<std::string>;

Row row_of(const std::string& name) {
  auto st = container::load_state(name);
  if (!st) return {name, "-", "unknown", st.error().message};
  container::LiveStatus live = container::live_status(*st);
  std::string pid = live.kind == container::LiveStatus::Kind::Stopped ? "-" : std::to_string(st->init.pid);
  return {name, pid, live.text(), container::join_command(st->command)};
}

void print_table(const std::vector<Row>& rows) {
  std::vector<size_t> width(rows.front().size(), 0);
  for (const Row& r : rows)
    for (size_t i = 0; i + 1 < r.size(); i++) width[i] = std::max(width[i], r[i].size());
  for (const Row& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); i++) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    fmt::print("{}\n", line);
  }
}
}  // namespace

Action add_ps(CLI::App& app) {
  app.add_subcommand("ps", "List containers: NAME, PID (host pid of the init), STATE, COMMAND");
  return [](Context& ctx) {
    auto names = container::list_containers();
    if (!names) return report(ctx, names.error());
    std::vector<Row> rows = {{"NAME", "PID", "STATE", "COMMAND"}};
    for (const auto& n : *names) rows.push_back(row_of(n));
    print_table(rows);
    return 0;
  };
}

}  // namespace amber::cli
