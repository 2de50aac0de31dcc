// The shim's own life (in the process spawn_init forked). Internal to spawn.cpp.
#pragma once
#include "container/spawn.h"

namespace amber::container {

// Never returns: becomes the shim, clones the init, reports its pid on
// `report_fd`, waits for it, records its end, _exits.
[[noreturn]] void shim_main(const SpawnSpec& spec, const InitFn& fn, int report_fd);

}  // namespace amber::container
