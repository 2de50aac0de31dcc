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
  bool has_peer = false;         // connected (peer 0 then: the peer has closed)
  uint64_t vfs_ino = 0;          // bound to a path: the socket file's inode (UNIX_DIAG_VFS)
  uint64_t vfs_dev = 0;          // and its device, as stat's st_dev
  uint32_t rqueue = 0;           // UNIX_DIAG_RQLEN: listening: connections waiting; else bytes queued to read
  uint32_t wqueue = 0;           // listening: the backlog; else bytes sent, not yet read by the peer (truesize)
  uint8_t shutdown = 0;          // sk_shutdown: 1 receive, 2 send
};

// All unix sockets of the net namespace `netns_fd` refers to (-1: amber's).
Result<std::vector<UnixSockDiag>> unix_sockets(int netns_fd);

// The sockets of the net namespace of unix socket `sock_fd` (SIOCGSKNS),
// and that namespace's inode.
struct UnixNetDiag {
  uint64_t netns = 0;
  std::vector<UnixSockDiag> sockets;
  const UnixSockDiag* find(uint64_t inode) const;
};
Result<UnixNetDiag> unix_sockets_of(int sock_fd);

}  // namespace amber::sys
