// Small file and string helpers used everywhere (no Linux policy).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace amber {

// Whole file as text (procfs files report size 0: reads until EOF).
Result<std::string> read_file(const std::string& path);
// Writes `data` to an existing file (sysfs/cgroupfs/procfs knobs): one write().
Status write_file(const std::string& path, std::string_view data);
// Creates or truncates `path` with `data`, mode `mode`; fsync-free.
Status write_new_file(const std::string& path, std::string_view data, mode_t mode = 0644);
// Writes to `path.tmp` then renames it over `path`: readers never see a half file.
Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644);
Result<UniqueFd> open_fd(const std::string& path, int flags, mode_t mode = 0);
// Full write()/read() loops on an fd (EINTR-safe).
Status write_all(int fd, const void* data, size_t len);
Status read_exact(int fd, void* data, size_t len);
// Symlink target.
Result<std::string> read_link(const std::string& path);
// mkdir -p.
Status make_dirs(const std::string& path, mode_t mode = 0755);
// rm -rf (does not cross mount points; refuses "/" and "").
Status remove_tree(const std::string& path);
bool path_exists(const std::string& path);

std::vector<std::string_view> split(std::string_view s, char sep);
// Splits on runs of spaces/tabs, dropping empty fields.
std::vector<std::string_view> split_ws(std::string_view s);
std::string_view trim(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
// Parses a whole decimal/hex (base 16) integer; nullopt on any junk.
std::optional<int64_t> parse_int(std::string_view s, int base = 10);
std::optional<uint64_t> parse_uint(std::string_view s, int base = 10);

}  // namespace amber
