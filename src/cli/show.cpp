// amber show DIR [--json] [--verify] [--key FILE]: prints an image readably,
// or as one JSON document, once it is authenticated with the host's key (or
// --key's); --verify first runs every check a restore runs before it creates
// anything (restore/check.h), page data tags included.
#include <cstdio>
#include <string>

#include "cli/verbs.h"
#include "image/describe.h"
#include "image/reader.h"
#include "restore/check.h"

namespace amber::cli {

Action add_show(CLI::App& app) {
  struct Opts {
    std::string dir;
    bool json = false;
    bool verify = false;
    std::string key_file;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand("show", "Print an image directory (container, tasks, memory, fds)");
  sub->add_option("dir", o->dir, "Image directory")->required()->check(path_value());
  sub->add_flag("--json", o->json, "Print one JSON document: the inventory and every metadata file");
  sub->add_flag("--verify", o->verify, "Run every check a restore runs before it creates anything (page data tags too)");
  sub->add_option("--key", o->key_file,
                  "The image was made with this key file (32 random bytes, mode 0600) instead of with the host's "
                  "/var/lib/amber/image.key")
      ->check(path_value());
  return [o](Context& ctx) -> int {
    auto key = image::Key::for_option(o->key_file);
    if (!key) return report(ctx, key.error());
    auto reader = image::ImageReader::open(o->dir, *key);
    if (!reader) return report(ctx, reader.error());
    if (o->verify) {
      if (auto plan = restore::check_image(*reader, restore::PageData::Stream); !plan) return report(ctx, plan.error());
    } else if (auto st = reader->validate(); !st) {
      return report(ctx, st.error());
    }
    auto text = o->json ? image::describe_json(*reader) : image::describe_text(*reader);
    if (!text) return report(ctx, text.error());
    std::fwrite(text->data(), 1, text->size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  };
}

}  // namespace amber::cli
