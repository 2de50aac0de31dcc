// NETLINK_SOCK_DIAG for unix sockets (linux/unix_diag.h): every unix socket
// of one net namespace with its peer and pending connections.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace amber::sys {

struct UnixSockDiag {
  uint64_t inode = 0;
  uint64_t peer = 0;             // inode of the peer, 0 if none
  int type = 0;                  // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
  int state = 0;                 // TCP_LISTEN (10), TCP_ESTABLISHED (1), TCP_CLOSE (7)
  std::string name;              // bound path, "@name" for abstract, "" if unbound
  std::vector<uint64_t> icons;   // listening: inodes of the clients whose connections wait in accept()
};

// All unix sockets of the net namespace `netns_fd` refers to (-1: amber's).
Result<std::vector<UnixSockDiag>> unix_sockets(int netns_fd);

}  // namespace amber::sys
