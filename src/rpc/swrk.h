// `amber swrk FD` (and amber as `criu swrk FD`): the engine container runtimes
// (runc, podman, containerd) run to checkpoint and restore, speaking CRIU's
// RPC protocol on the socket FD. Requests: VERSION, FEATURE_CHECK, DUMP and
// RESTORE (PRE_DUMP and the others are refused by name). Inside a DUMP or
// RESTORE the runtime is told of each step it waits for (NOTIFY, answered
// with notify_success) before the final reply; then amber exits. The same
// drivers as `amber dump` / `amber restore` do the work (DESIGN.md).
#pragma once

#include "base/log.h"

namespace amber::rpc {

// The CRIU version amber answers VERSION with: the protocol level whose
// features amber's front end speaks (runc asks for >= 3.0 and gates
// features at 3.11, 3.14, 3.15 and 3.16). criu_version.name says "amber".
inline constexpr int kCriuMajor = 3;
inline constexpr int kCriuMinor = 17;

// Serves the runtime on socket `fd` until its last request is answered.
// Returns amber's exit status.
int serve(int fd, Log& log);

}  // namespace amber::rpc
