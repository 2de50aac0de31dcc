// Runs a function in a thread that first joined one namespace with setns().
// Kernel interfaces that answer for "the caller's namespace" — sock_diag for
// the net namespace of the netlink socket, /proc/sysvipc for the ipc
// namespace of the reading task — need it; setns(CLONE_NEWNET/NEWIPC/NEWUTS)
// is allowed per thread of a multi-threaded process (mnt and user are not),
// and the thread ends with its namespaces, leaving amber's own untouched.
#pragma once
#include <sched.h>

#include <optional>
#include <thread>

#include "base/result.h"

namespace amber::sys {

template <class F>
auto in_namespace(int nsfd, int nstype, F&& fn) -> decltype(fn()) {
  std::optional<decltype(fn())> out;
  std::thread t([&] {
    if (::setns(nsfd, nstype) < 0) {
      out.emplace(sys_fail("setns"));
      return;
    }
    out.emplace(fn());
  });
  t.join();
  return std::move(*out);
}

}  // namespace amber::sys
