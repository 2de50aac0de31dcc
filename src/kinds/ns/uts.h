// UTS namespace: hostname and domainname.
#pragma once
#include <sys/types.h>

#include "base/result.h"
#include "ns.pb.h"

namespace amber::kinds {

// Reads the names of `pid`'s uts namespace (from a short-lived thread that
// joins it: a task can only ask its own uts namespace).
Result<img::Uts> dump_uts(pid_t pid);

// Sets them in the calling process's (the restored init's) uts namespace.
Status restore_uts(const img::Uts& uts);

// Restore verification: `pid`'s uts namespace has the image's names.
Status verify_uts(pid_t pid, const img::Uts& want);

}  // namespace amber::kinds
