#include "rpc/channel.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "base/files.h"
#include "sys/fd_pass.h"

namespace amber::rpc {

Result<Channel> Channel::adopt(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return sys_fail("swrk: fd {} is not a socket", fd);
  if (type != SOCK_SEQPACKET) return bad_input("swrk: fd {} is not a SOCK_SEQPACKET socket", fd);
  ucred cred{};
  len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return sys_fail("swrk: SO_PEERCRED of fd {}", fd);
  if (cred.pid <= 0) return bad_input("swrk: fd {} has no peer process", fd);
  // Not passed on to anything amber starts (the restored tasks above all).
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return sys_fail("swrk: fd {}: FD_CLOEXEC", fd);
  Channel c;
  c.fd_ = UniqueFd(fd);
  c.peer_ = cred.pid;
  return c;
}

Result<std::optional<criurpc::criu_req>> Channel::recv() {
  // MSG_PEEK|MSG_TRUNC: the packet's whole size, so no request is cut.
  ssize_t n;
  do n = ::recv(fd_.get(), nullptr, 0, MSG_PEEK | MSG_TRUNC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return sys_fail("swrk: receive");
  std::vector<char> buf(static_cast<size_t>(n) + 1);
  do n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return sys_fail("swrk: receive");
  if (n == 0) return std::nullopt;
  criurpc::criu_req req;
  // Partial: a missing required field is named below, not "parse error".
  if (!req.ParsePartialFromArray(buf.data(), static_cast<int>(n)))
    return bad_input("swrk: a request of {} bytes is not a criu_req message", n);
  if (!req.has_type()) return bad_input("swrk: a request without a type");
  if (req.has_opts() && !req.opts().has_images_dir_fd() && !req.opts().has_images_dir())
    return bad_input("swrk: {} request: criu_opts without images_dir_fd", criurpc::criu_req_type_Name(req.type()));
  return req;
}

Status Channel::send(const criurpc::criu_resp& resp, int pass_fd) {
  std::string data;
  if (!resp.SerializeToString(&data)) return failf("swrk: cannot encode a response");
  // (SCM_RIGHTS: the orphan-pts-master notification passes the pty master.)
  ssize_t n;
  do n = sys::send_with_fd(fd_.get(), data.data(), data.size(), pass_fd);
  while (n < 0 && errno == EINTR);
  if (n < 0) return sys_fail("swrk: send");
  return {};
}

Result<PeerDir> open_peer_dir(pid_t peer, int fd, std::string_view what) {
  const std::string link = fmt::format("/proc/{}/fd/{}", peer, fd);
  PeerDir d;
  d.fd = TRY_CTX(open_fd(link, O_PATH | O_DIRECTORY | O_CLOEXEC), "{} {} of the runtime (pid {})", what, fd, peer);
  d.path = TRY_CTX(read_link(link), "{} {}", what, fd);
  struct stat by_fd {}, by_path {};
  if (::fstat(d.fd.get(), &by_fd) != 0 || ::stat(d.path.c_str(), &by_path) != 0 || by_fd.st_dev != by_path.st_dev ||
      by_fd.st_ino != by_path.st_ino)
    return bad_input("{} {} of the runtime (pid {}): {} is not reachable by its path", what, fd, peer, d.path);
  return d;
}

}  // namespace amber::rpc
