// Where amber keeps its containers: the state directory (/run/amber/NAME,
// AMBER_STATE_DIR overrides /run/amber) and the v2 cgroup (<v2>/amber/NAME,
// AMBER_CGROUP_ROOT overrides <v2>/amber). Container names.
#pragma once
#include <string>
#include <string_view>

#include "base/result.h"

namespace amber::container {

inline constexpr const char* kDefaultStateRoot = "/run/amber";

// $AMBER_STATE_DIR or /run/amber.
std::string state_root();
// $AMBER_CGROUP_ROOT or <v2 mount>/amber; errors if there is no cgroup v2.
Result<std::string> cgroup_root();

std::string state_dir(const std::string& name);  // <state root>/NAME
inline std::string state_file(const std::string& dir) { return dir + "/state.json"; }
inline std::string exit_file(const std::string& dir) { return dir + "/exit"; }
inline std::string log_file(const std::string& dir) { return dir + "/log"; }
// `amber run --tty`: the shim hands the terminal's master to `amber attach` here.
inline std::string attach_socket(const std::string& dir) { return dir + "/attach.sock"; }

// [A-Za-z0-9_.-]{1,64}, and not "." or ".." (it names a directory).
bool valid_name(std::string_view name);
Status check_name(std::string_view name);  // exit 2 with the rule in the message
// "amber-" + 6 random hex digits.
std::string generate_name();

}  // namespace amber::container
