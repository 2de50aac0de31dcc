// amber show DIR [--json]: prints an image readably, or as one JSON document.
#include <cstdio>
#include <string>

#include "cli/verbs.h"
#include "image/describe.h"
#include "image/pages.h"
#include "image/reader.h"

namespace amber::cli {

namespace {

// Streams every page store once: what restore would check chunk by chunk.
Status verify_pages(const image::ImageReader& reader) {
  for (const img::FileEntry& f : reader.inventory().files()) {
    if (f.kind() != img::KIND_PAGES_INDEX) continue;
    image::PageReader pages = TRY(image::PageReader::open(reader, f.path()));
    TRY(pages.for_each_run([](uint64_t, std::span<const std::byte>) -> Status { return {}; }));
  }
  return {};
}

}  // namespace

Action add_show(CLI::App& app) {
  struct Opts {
    std::string dir;
    bool json = false;
    bool verify = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand("show", "Print an image directory (container, tasks, memory, fds)");
  sub->add_option("dir", o->dir, "Image directory")->required()->check(path_value());
  sub->add_flag("--json", o->json, "Print one JSON document: the inventory and every metadata file");
  sub->add_flag("--verify", o->verify, "Also read all page data and check its checksums");
  return [o](Context& ctx) -> int {
    auto reader = image::ImageReader::open(o->dir);
    if (!reader) return report(ctx, reader.error());
    if (auto st = reader->validate(); !st) return report(ctx, st.error());
    if (o->verify)
      if (auto st = verify_pages(*reader); !st) return report(ctx, st.error());
    auto text = o->json ? image::describe_json(*reader) : image::describe_text(*reader);
    if (!text) return report(ctx, text.error());
    std::fwrite(text->data(), 1, text->size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  };
}

}  // namespace amber::cli
