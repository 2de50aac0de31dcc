// Validators shared by the verbs' options (cli/verbs.h).
#include <climits>
#include <string>

#include "cli/verbs.h"

namespace amber::cli {

CLI::Validator non_empty() {
  return CLI::Validator([](std::string& v) { return v.empty() ? std::string("empty") : std::string(); }, "",
                        "NON_EMPTY");
}

CLI::Validator path_value() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        if (v.empty()) return "empty";
        if (v.size() >= PATH_MAX) return fmt::format("longer than {} bytes", PATH_MAX - 1);
        size_t start = 0;
        while (start < v.size()) {
          size_t end = v.find('/', start);
          if (end == std::string::npos) end = v.size();
          if (end - start > NAME_MAX)
            return fmt::format("'{}...': a name in it is longer than {} bytes", v.substr(start, 16), NAME_MAX);
          start = end + 1;
        }
        return {};
      },
      "", "PATH");
}

}  // namespace amber::cli
