// amber swrk FD: serve a container runtime over CRIU's RPC protocol (rpc/swrk.h).
// Also what `criu swrk FD` runs when amber is invoked as criu (main.cpp).
#include <memory>

#include "cli/verbs.h"
#include "rpc/swrk.h"

namespace amber::cli {

Action add_swrk(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "swrk", "Serve a container runtime (runc, podman, containerd) over CRIU's RPC protocol on the inherited "
              "SOCK_SEQPACKET socket FD: checkpoint and restore its containers with amber");
  auto fd = std::make_shared<int>(-1);
  sub->add_option("fd", *fd, "The socket's fd number")->required();
  return [fd](Context& ctx) {
    if (*fd < 0) return report(ctx, Error{Exit::BadInput, 0, fmt::format("swrk: fd {}: not an fd number", *fd)});
    // The runtime reads the log file in its work directory, not amber's
    // stderr (which is the container's own at a restore).
    ctx.log.set_level(Level::Quiet);
    return rpc::serve(*fd, ctx.log);
  };
}

}  // namespace amber::cli
