// amber invoked as `criu` (a link named criu, what runtimes run by default):
// the commands of CRIU's command line that runtimes use. `criu swrk N` is
// amber swrk; `criu --version` and `criu check` answer for the protocol
// (rpc/swrk.h); any other criu command is refused by name.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/verbs.h"
#include "rpc/swrk.h"

namespace amber::cli {

std::optional<int> as_criu(std::vector<std::string>& args) {
  const std::string cmd = args.size() > 1 ? args[1] : "";
  if (cmd == "swrk" && args.size() == 3) return std::nullopt;  // amber swrk N
  if ((cmd == "--version" || cmd == "-V") && args.size() == 2) {
    fmt::print("Version: {}.{}\n", rpc::kCriuMajor, rpc::kCriuMinor);
    fmt::print("amber: CRIU's RPC protocol (criu swrk); the criu command line is not\n");
    return 0;
  }
  if (cmd == "check" && args.size() == 2) {
    fmt::print("Looks good.\n");
    return 0;
  }
  std::string line;
  for (size_t i = 1; i < args.size(); ++i) line += (i > 1 ? " " : "") + args[i];
  fmt::print(stderr,
             "amber (as criu): error: 'criu {}' is not supported: amber speaks CRIU's RPC protocol (criu swrk FD), "
             "and answers criu --version and criu check; use amber dump / amber restore otherwise\n",
             line);
  return 2;
}

}  // namespace amber::cli
