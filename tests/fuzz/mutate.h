// Mutations of an in-memory image, and the fix-up that makes a mutated image
// pass the integrity layers again (header and payload checksums, inventory
// sizes, page chunk checksums) so that the mutations reach the decoders and
// semantic checks behind them instead of stopping at "checksum mismatch".
#pragma once
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "packed.h"

namespace amber::fuzz {

using Rng = std::mt19937_64;

// Values seen in the corpus, for mutations that put a real value (a pid, a
// path, a whole Thread message from another image) where it does not belong.
class Dictionary {
 public:
  void add(const Image& image);
  // Empty if nothing of the type was seen.
  const std::vector<std::string>& samples(const std::string& type) const;
  const std::vector<uint64_t>& ints() const { return ints_; }
  const std::vector<std::string>& strings() const { return strings_; }

 private:
  void add_message(const google::protobuf::Message& m, int depth);
  std::map<std::string, std::vector<std::string>> samples_;  // serialized, by full type name
  std::vector<uint64_t> ints_;
  std::set<uint64_t> int_set_;
  std::vector<std::string> strings_;
  std::set<std::string> string_set_;
};

// What the fix-up leaves alone, so that the integrity checks themselves are
// fuzzed too.
struct Fixup {
  enum class Header { Full, HeaderChecksumOnly, None };
  std::map<std::string, Header> headers;  // default Full
  bool inventory_sizes = true;
  bool chunk_checksums = true;
};

// Applies 1..6 random mutations to `image` (`corpus`: other images to splice
// from) and says what the fix-up must leave as it is.
Fixup mutate(Image& image, Rng& rng, const Dictionary& dict, const std::vector<Image>& corpus);

// Recomputes what a hand-editor who knows the format would: page chunk and
// tmpfs file checksums, every changed metadata file's header (length and
// XXH3-64 of payload and header), the inventory's sizes. Only files that
// differ from `base` are looked at (nullptr: all).
// Image authentication (keyed tags) belongs at the end of this step: the
// harness re-signs whatever it mutated, so the fuzzing reaches below it.
void fixup(Image& image, const Fixup& how, const Image* base);

// The kind in a metadata file's header, 0 if the file has none.
uint32_t header_kind(const std::string& data);

}  // namespace amber::fuzz
