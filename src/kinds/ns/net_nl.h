// Internal to the net namespace kind: libnl handles shared by net_view.cpp
// and net_rtnl.cpp (the only files built with libnl's include path).
#pragma once
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/object.h>
#include <netlink/socket.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/files.h"
#include "base/result.h"

namespace amber::kinds::net {

struct SockFree {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
using Sock = std::unique_ptr<nl_sock, SockFree>;

inline std::unexpected<Error> nl_fail(int err, std::string_view what) {
  return fail(Exit::Failed, fmt::format("{}: {}", what, nl_geterror(err)));
}

// A netlink socket of the calling thread's net namespace.
inline Result<Sock> connect(int protocol) {
  Sock s(nl_socket_alloc());
  if (!s) return failf("netlink: out of memory");
  if (int e = nl_connect(s.get(), protocol); e < 0) return nl_fail(e, fmt::format("netlink protocol {}", protocol));
  return s;
}

// libnl's one-line description of an object ("inet 127.0.0.1/8 dev lo
// scope host <permanent>"): the same text for the same object in any
// namespace, since it names no counter, timer or cache of ours.
inline std::string line_of(nl_object* o) {
  char buf[1024] = {};
  nl_object_dump_buf(o, buf, sizeof buf);
  std::string s(trim(buf));
  for (char& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  return s;
}

}  // namespace amber::kinds::net
