// Nested namespaces: every thread of the container must be in the
// container's own namespaces (the init's). A task that unshare()d or
// setns()ed into another one — a mount namespace with mounts of its own, a
// nested pid namespace (also one only its children would get:
// pid_for_children), a user namespace — is not recreated by the restore, so
// the dump refuses it by name, as any namespace kind this amber does not know.
#pragma once
#include <vector>

#include "base/result.h"
#include "kinds/tree.h"

namespace amber::kinds {

// Unsupported (exit 4) naming the first thread, its namespace kind and both
// namespaces. `tree[0]` is the init; zombies have no namespaces left.
Status check_same_namespaces(const std::vector<TreeTask>& tree);

}  // namespace amber::kinds
