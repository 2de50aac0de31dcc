// Renders an image for people (`amber show`) or as one JSON document
// (`amber show --json`). Both read every file they print through the checked
// reader, so a bad file is an error naming it.
#pragma once
#include <string>

#include "base/result.h"
#include "image/reader.h"

namespace amber::image {

// Inventory, container and namespaces, then the process tree: per task its
// threads, memory areas with their stored page counts, and fds.
Result<std::string> describe_text(const ImageReader& image);

// {"inventory": {...}, "files": {"<path>": {...message...}, ...}}: every
// metadata file in inventory order, each message in protobuf's canonical JSON
// mapping (field names as in the .proto; bytes fields are base64, 64-bit
// integers are strings). Raw page data is listed in the inventory only.
Result<std::string> describe_json(const ImageReader& image);

// `s` with non-printable and non-ASCII bytes as \xNN (names are raw bytes).
std::string printable(std::string_view s);

}  // namespace amber::image
