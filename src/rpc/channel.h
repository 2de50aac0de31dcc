// The connection of `amber swrk N`: an inherited SOCK_SEQPACKET socket, one
// unframed CRIU RPC message per packet (proto/criu_rpc.proto), and the
// runtime at the other end (SO_PEERCRED), whose fds the requests name.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"
#include "criu_rpc.pb.h"

namespace amber::rpc {

class Channel {
 public:
  // `fd`: the socket amber was given; it must be a SOCK_SEQPACKET unix socket.
  static Result<Channel> adopt(int fd);

  // The next request; std::nullopt at end of file (the runtime closed it).
  Result<std::optional<criurpc::criu_req>> recv();
  // One response; `pass_fd` >= 0 travels with it (SCM_RIGHTS).
  Status send(const criurpc::criu_resp& resp, int pass_fd = -1);

  pid_t peer() const { return peer_; }
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  pid_t peer_ = 0;
};

// An fd of the runtime, as CRIU takes it: /proc/<peer>/fd/N opened again
// (an O_PATH directory fd for images_dir_fd and work_dir_fd). `path`: where
// it leads, checked to be the same directory.
struct PeerDir {
  UniqueFd fd;
  std::string path;
};
Result<PeerDir> open_peer_dir(pid_t peer, int fd, std::string_view what);

}  // namespace amber::rpc
