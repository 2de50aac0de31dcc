// Test-only: mutates a committed image the way a hand-edited or damaged one
// would look, keeping every header and inventory checksum valid and signing
// the result again with the key (the host's, or --key FILE's), so that a test
// reaches the check behind them (tests/e2e/dump_bad_images.sh). With
// --no-sign it edits as someone without the key would: checksums recomputed,
// the inventory's tag left as it was (tests/e2e/dump_auth.sh).
//
//   image_edit [--key FILE] [--no-sign] DIR COMMAND ARGS
//   image_edit DIR decode RELPATH     metadata file as protobuf text, on stdout
//   image_edit DIR encode RELPATH     stdin (text) back into RELPATH, inventory size updated
//   image_edit DIR drop RELPATH...    removes the files and their inventory entries
//   image_edit DIR resize RELPATH     the inventory's size of RELPATH := its size on disk
//   image_edit DIR sign               signs the image as it is (sizes and SHA-256 from disk)
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include <google/protobuf/text_format.h>

#include "base/files.h"
#include "image/auth.h"
#include "image/format.h"
#include "image/reader.h"

namespace {

using namespace amber;

Status write_meta(const std::string& path, image::Kind kind, const google::protobuf::Message& msg) {
  std::string payload;
  if (!msg.SerializeToString(&payload)) return failf("{}: serialize", path);
  auto h = image::encode_header(kind, payload);
  std::string data(reinterpret_cast<const char*>(h.data()), h.size());
  data += payload;
  return write_new_file(path, data);
}

Status save_inventory(const image::ImageReader& r, const img::Inventory& inv) {
  return write_meta(r.path(image::kInventoryFile), img::KIND_INVENTORY, inv);
}

img::FileEntry* entry(img::Inventory& inv, const std::string& rel) {
  for (auto& f : *inv.mutable_files())
    if (f.path() == rel) return &f;
  return nullptr;
}

Status resize(const image::ImageReader& r, img::Inventory& inv, const std::string& rel) {
  img::FileEntry* f = entry(inv, rel);
  if (!f) return failf("{}: not in the inventory", rel);
  struct stat st {};
  if (::stat(r.path(rel).c_str(), &st) != 0) return sys_fail("stat {}", rel);
  f->set_size(static_cast<uint64_t>(st.st_size));
  return {};
}

Status run(int argc, char** argv) {
  std::string key_file;
  bool sign = true;
  for (;;) {
    if (argc > 2 && std::string_view(argv[1]) == "--key") {
      key_file = argv[2];
      argc -= 2, argv += 2;
    } else if (argc > 1 && std::string_view(argv[1]) == "--no-sign") {
      sign = false;
      argc -= 1, argv += 1;
    } else {
      break;
    }
  }
  if (argc < 3) return failf("usage: image_edit [--key FILE] [--no-sign] DIR decode|encode|drop|resize|sign RELPATH...");
  const image::Key key = TRY(image::Key::for_option(key_file));
  image::ImageReader r = TRY(image::ImageReader::open(argv[1], key));
  img::Inventory inv = r.inventory();
  const std::string cmd = argv[2], rel = argc > 3 ? argv[3] : "";
  if (cmd == "sign") return image::resign_image(argv[1], key);
  if (argc < 4) return failf("{}: which file?", cmd);
  if (cmd == "decode" || cmd == "encode") {
    const img::FileEntry* f = r.find(rel);
    if (!f) return failf("{}: not in the inventory", rel);
    auto msg = image::new_message(f->kind());
    if (!msg) return failf("{}: not a metadata file", rel);
    if (cmd == "decode") {
      TRY(r.read_message(rel, static_cast<image::Kind>(f->kind()), *msg));
      std::string text;
      google::protobuf::TextFormat::PrintToString(*msg, &text);
      std::fwrite(text.data(), 1, text.size(), stdout);
      return {};
    }
    std::string text{std::istreambuf_iterator<char>(std::cin), {}};
    if (!google::protobuf::TextFormat::ParseFromString(text, msg.get())) return failf("{}: text does not parse", rel);
    TRY(write_meta(r.path(rel), static_cast<image::Kind>(f->kind()), *msg));
    TRY(resize(r, inv, rel));
  } else if (cmd == "drop") {
    for (int i = 3; i < argc; i++) {
      auto* files = inv.mutable_files();
      auto it = std::find_if(files->begin(), files->end(), [&](const img::FileEntry& f) { return f.path() == argv[i]; });
      if (it == files->end()) return failf("{}: not in the inventory", argv[i]);
      files->erase(it);
      if (::unlink(r.path(argv[i]).c_str()) != 0) return sys_fail("unlink {}", argv[i]);
    }
  } else if (cmd == "resize") {
    TRY(resize(r, inv, rel));
  } else {
    return failf("unknown command {}", cmd);
  }
  if (!sign) {
    // As an editor without the key: every checksum a reader recomputes is
    // right, the SHA-256 of the edited file too; only the tag is stale.
    if (const img::FileEntry* f = r.find(rel); f && image::new_message(f->kind())) {
      std::string data = TRY(read_file(r.path(rel)));
      image::Sha256 h = TRY(image::sha256(data));
      entry(inv, rel)->set_sha256(std::string(reinterpret_cast<const char*>(h.data()), h.size()));
    }
    return save_inventory(r, inv);
  }
  TRY(save_inventory(r, inv));
  return image::resign_image(argv[1], key);
}

}  // namespace

int main(int argc, char** argv) {
  if (auto st = run(argc, argv); !st) {
    std::fprintf(stderr, "image_edit: %s\n", st.error().message.c_str());
    return 1;
  }
  return 0;
}
