// The nftables ruleset of the calling thread's net namespace, through
// libnftables (the library behind nft(8)): listed as nft's text, which is
// also its input language (`nft list ruleset > f; nft -f f`), and loaded
// back with the same parser. Its netlink socket is opened by the context,
// so a context is made in the thread that is in the namespace.
#include <nftables/libnftables.h>

#include <memory>

#include "kinds/ns/net_view.h"

namespace amber::kinds::net {

namespace {

struct CtxFree {
  void operator()(nft_ctx* c) const { nft_ctx_free(c); }
};
using Ctx = std::unique_ptr<nft_ctx, CtxFree>;

Result<Ctx> make_ctx() {
  Ctx c(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!c) return failf("libnftables: cannot make a context");
  if (nft_ctx_buffer_output(c.get()) != 0 || nft_ctx_buffer_error(c.get()) != 0)
    return failf("libnftables: cannot buffer its output");
  return c;
}

std::string first_line(const char* s) {
  std::string t = s ? s : "";
  if (auto nl = t.find('\n'); nl != std::string::npos) t.resize(nl);
  return t;
}

}  // namespace

Result<std::string> nft_list_ruleset(const std::set<std::string>& tables) {
  std::string out;
  for (const std::string& t : tables) {
    // A context per table: its output buffer holds one command's output.
    Ctx c = TRY(make_ctx());
    if (nft_run_cmd_from_buffer(c.get(), fmt::format("list table {}", t).c_str()) != 0)
      return failf("nftables: list table {}: {}", t, first_line(nft_ctx_get_error_buffer(c.get())));
    out += nft_ctx_get_output_buffer(c.get());
  }
  return out;
}

Status nft_run(const std::string& commands, std::string_view what) {
  Ctx c = TRY(make_ctx());
  if (nft_run_cmd_from_buffer(c.get(), commands.c_str()) != 0)
    return failf("nftables: {}: {}", what, first_line(nft_ctx_get_error_buffer(c.get())));
  return {};
}

Status nft_load_ruleset(const std::string& text) {
  if (text.empty()) return {};
  return nft_run(text, "load the saved ruleset");
}

}  // namespace amber::kinds::net
