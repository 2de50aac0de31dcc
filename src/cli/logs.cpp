// amber logs NAME
#include <fcntl.h>
#include <unistd.h>

#include <memory>

#include "base/files.h"
#include "cli/verbs.h"
#include "container/paths.h"
#include "container/state.h"

namespace amber::cli {

namespace {
// Copies the log as it is now (it may be growing) to stdout.
Status print_log(const std::string& name) {
  if (!container::valid_name(name) || !path_exists(container::state_dir(name)))
    return bad_input("no container named {}", name);
  std::string path = container::log_file(container::state_dir(name));
  UniqueFd fd = TRY(open_fd(path, O_RDONLY));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_fail("read {}", path);
    }
    if (n == 0) return {};
    TRY_CTX(write_all(1, buf, static_cast<size_t>(n)), "stdout");
  }
}
}  // namespace

Action add_logs(CLI::App& app) {
  auto* sub = app.add_subcommand("logs", "Print what a container's init wrote to stdout and stderr");
  auto name = std::make_shared<std::string>();
  sub->add_option("name", *name, "Container name")->required();
  return [name](Context& ctx) {
    if (auto r = print_log(*name); !r) return report(ctx, r.error());
    return 0;
  };
}

}  // namespace amber::cli
