#include "packed.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "base/files.h"

namespace amber::fuzz {

namespace {

constexpr char kPackMagic[8] = {'A', 'M', 'B', 'F', 'U', 'Z', 'Z', '1'};

template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

bool all_zero(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == 0; });
}

// Raw writes for the crash handler: errors are ignored (nothing better to do).
void raw_write(int fd, const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t k = ::write(fd, c, n);
    if (k <= 0) {
      if (k < 0 && errno == EINTR) continue;
      return;
    }
    c += k;
    n -= static_cast<size_t>(k);
  }
}

}  // namespace

File* Image::find(std::string_view path) {
  auto it = std::lower_bound(files.begin(), files.end(), path, [](const File& f, std::string_view p) { return f.path < p; });
  return it != files.end() && it->path == path ? &*it : nullptr;
}

const File* Image::find(std::string_view path) const { return const_cast<Image*>(this)->find(path); }

void Image::set(std::string_view path, std::string data) {
  auto ptr = std::make_shared<const std::string>(std::move(data));
  auto it = std::lower_bound(files.begin(), files.end(), path, [](const File& f, std::string_view p) { return f.path < p; });
  if (it != files.end() && it->path == path)
    it->data = std::move(ptr);
  else
    files.insert(it, File{std::string(path), std::move(ptr)});
}

void Image::remove(std::string_view path) {
  std::erase_if(files, [&](const File& f) { return f.path == path; });
}

bool safe_relpath(std::string_view path) {
  if (path.empty() || path.size() > 512 || path.front() == '/') return false;
  if (path.find('\0') != std::string_view::npos) return false;
  for (std::string_view part : split(path, '/'))
    if (part.empty() || part == "." || part == "..") return false;
  return true;
}

Result<Image> load_dir(const std::string& dir) {
  Image img;
  img.name = dir;
  std::function<Status(const std::string&)> walk = [&](const std::string& rel) -> Status {
    const std::string full = rel.empty() ? dir : dir + "/" + rel;
    DIR* d = ::opendir(full.c_str());
    if (!d) return sys_fail("opendir {}", full);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names.emplace_back(e->d_name);
    ::closedir(d);
    for (const std::string& n : names) {
      const std::string r = rel.empty() ? n : rel + "/" + n;
      struct stat st {};
      if (::lstat((dir + "/" + r).c_str(), &st) != 0) return sys_fail("stat {}/{}", dir, r);
      if (S_ISDIR(st.st_mode)) {
        TRY(walk(r));
      } else if (S_ISREG(st.st_mode)) {
        img.set(r, TRY(read_file(dir + "/" + r)));
      }
    }
    return {};
  };
  TRY(walk(""));
  return img;
}

std::string pack(const Image& image) {
  std::string out(kPackMagic, sizeof kPackMagic);
  put<uint32_t>(out, static_cast<uint32_t>(image.files.size()));
  for (const File& f : image.files) {
    put<uint16_t>(out, static_cast<uint16_t>(f.path.size()));
    out += f.path;
    const bool zeros = !f.data->empty() && all_zero(*f.data);
    put<uint8_t>(out, zeros ? 1 : 0);
    put<uint64_t>(out, f.data->size());
    if (!zeros) out += *f.data;
  }
  return out;
}

void pack_to_fd(int fd, const Image& image) {
  raw_write(fd, kPackMagic, sizeof kPackMagic);
  const uint32_t n = static_cast<uint32_t>(image.files.size());
  raw_write(fd, &n, sizeof n);
  for (const File& f : image.files) {
    const uint16_t len = static_cast<uint16_t>(f.path.size());
    raw_write(fd, &len, sizeof len);
    raw_write(fd, f.path.data(), f.path.size());
    const uint8_t how = 0;  // literal: no time to look for zeros here
    raw_write(fd, &how, 1);
    const uint64_t size = f.data->size();
    raw_write(fd, &size, sizeof size);
    raw_write(fd, f.data->data(), f.data->size());
  }
}

Result<Image> unpack(std::string_view in, std::string name) {
  Image img;
  img.name = std::move(name);
  size_t at = 0;
  auto take = [&](void* dst, size_t n) {
    if (in.size() - at < n) return false;
    std::memcpy(dst, in.data() + at, n);
    at += n;
    return true;
  };
  char magic[8];
  uint32_t nfiles = 0;
  if (!take(magic, sizeof magic) || std::memcmp(magic, kPackMagic, sizeof magic) != 0)
    return bad_input("{}: not a packed image (bad magic)", img.name);
  if (!take(&nfiles, sizeof nfiles) || nfiles > kMaxFiles) return bad_input("{}: bad file count", img.name);
  uint64_t total = 0;
  for (uint32_t i = 0; i < nfiles; i++) {
    uint16_t len = 0;
    uint8_t how = 0;
    uint64_t size = 0;
    if (!take(&len, sizeof len) || in.size() - at < len) return bad_input("{}: truncated at file {}", img.name, i);
    std::string path(in.substr(at, len));
    at += len;
    if (!take(&how, 1) || !take(&size, sizeof size) || how > 1) return bad_input("{}: truncated at {}", img.name, path);
    if (!safe_relpath(path) || img.find(path)) return bad_input("{}: bad or repeated path", img.name);
    if (size > kMaxImageBytes - total) return bad_input("{}: too large", img.name);
    total += size;
    if (how == 1) {
      img.set(path, std::string(size, '\0'));
    } else {
      if (in.size() - at < size) return bad_input("{}: truncated in {}", img.name, path);
      img.set(path, std::string(in.substr(at, size)));
      at += size;
    }
  }
  if (at != in.size()) return bad_input("{}: {} bytes after the last file", img.name, in.size() - at);
  return img;
}

Status WorkDir::reset() {
  if (path_exists(dir_)) TRY(remove_tree(dir_));
  TRY(make_dirs(dir_));
  on_disk_ = Image{};
  return {};
}

Status WorkDir::put(const Image& image) {
  // Gone files first: a file may become a directory of the new image.
  for (const File& f : on_disk_.files)
    if (!image.find(f.path)) {
      if (::unlink((dir_ + "/" + f.path).c_str()) != 0 && errno != ENOENT) return sys_fail("unlink {}", f.path);
    }
  Image now;
  for (const File& f : image.files) {
    if (!safe_relpath(f.path)) return bad_input("unsafe path {}", f.path);
    const File* old = on_disk_.find(f.path);
    if (!(old && (old->data == f.data || *old->data == *f.data))) {
      const std::string full = dir_ + "/" + f.path;
      if (size_t slash = f.path.rfind('/'); slash != std::string::npos) {
        const std::string parent = dir_ + "/" + f.path.substr(0, slash);
        struct stat st {};
        if (::stat(parent.c_str(), &st) != 0) TRY(make_dirs(parent));
      }
      int fd = ::open(full.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) {
        on_disk_ = Image{};  // unknown state: the caller resets
        return sys_fail("create {}", full);
      }
      UniqueFd closer(fd);
      if (auto st = write_all(fd, f.data->data(), f.data->size()); !st) {
        on_disk_ = Image{};
        return st;
      }
    }
    now.files.push_back(f);
  }
  on_disk_ = std::move(now);
  return {};
}

}  // namespace amber::fuzz
