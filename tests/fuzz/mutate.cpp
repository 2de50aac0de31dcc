#include "mutate.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

#include "fs.pb.h"
#include "header.pb.h"
#include "image/format.h"
#include "image/pages.h"
#include "pages.pb.h"

namespace amber::fuzz {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;

namespace {

constexpr size_t kMaxSamplesPerType = 48;
constexpr size_t kMaxInts = 8192;
constexpr size_t kMaxStrings = 4096;
constexpr size_t kMaxGrowth = 1 << 16;  // a mutation adds at most this many bytes

// Values at the edges of what the checks compare: page and chunk sizes,
// pid_max, address-space ends, sign and width boundaries.
constexpr uint64_t kInteresting[] = {
    0, 1, 2, 3, 7, 8, 16, 31, 32, 63, 64, 100, 127, 128, 255, 256, 512, 1000, 1023, 1024, 4095, 4096, 4097, 8192,
    0x7fff, 0x8000, 0xffff, 0x10000, 0x100000, 0x100001, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000,
    4194304, 4194305, 32768, 0xfffff000, 0x7ffffffff000, 0x7ffffffff001, 0x800000000000, 0xffffffffff600000,
    0x7fffffffffffffff, 0x8000000000000000, 0xfffffffffffff000, 0xffffffffffffffff, 0xfffffffffffffffe,
    0xffffffff80000000, uint64_t(-4096), uint64_t(-512), uint64_t(-4), uint64_t(-22)};

// Path-like strings at the edges of the path checks.
const char* const kInterestingStrings[] = {
    "", "/", ".", "..", "/..", "/../..", "//", "/./", "a/../b", "/tmp", "/tmp/..", "/proc", "/proc/self/exe",
    "/dev/null", "/dev/pts/0", "/etc", "/etc/passwd", "/var/tmp", "/sys/fs/cgroup", "tmpfs", "proc", "devpts",
    "inventory.img", "container.img", "tasks/1/task.img", "tasks/1/pages-1.bin", "shmem/pages-0.bin", "../x",
    "x/./y", "[heap]", "[stack]", "[vdso]", "[vvar]", "rw,nosuid", "size=1k", "\xff\xfe", "a\nb"};

uint64_t pick_int(Rng& rng, const Dictionary& dict, uint64_t cur) {
  switch (rng() % 8) {
    case 0: case 1: return kInteresting[rng() % std::size(kInteresting)];
    case 2: return cur + (rng() % 2 ? 1 : -1) * (rng() % 2 ? 1 : 4096);
    case 3: return cur ^ (uint64_t{1} << (rng() % 64));
    case 4: case 5:
      if (!dict.ints().empty()) return dict.ints()[rng() % dict.ints().size()];
      return rng();
    case 6: return rng() % 64;
    default: return rng();
  }
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; k++)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += n;
  }
  return true;
}

std::string pick_string(Rng& rng, const Dictionary& dict, const std::string& cur) {
  switch (rng() % 10) {
    case 0: case 1: return kInterestingStrings[rng() % std::size(kInterestingStrings)];
    case 2: case 3:
      if (!dict.strings().empty()) return dict.strings()[rng() % dict.strings().size()];
      return cur;
    case 4: return cur + (rng() % 2 ? "/.." : "/x");
    case 5: return cur.substr(0, cur.empty() ? 0 : rng() % cur.size());
    case 6: {
      std::string s = cur;
      if (!s.empty()) s[rng() % s.size()] = static_cast<char>(rng() % 2 ? 0 : rng());
      return s;
    }
    case 7: return std::string(rng() % 2 ? 4096 : 255 + rng() % 3, 'a');
    case 8: return "/" + cur;
    default: {
      std::string s(rng() % 16, '\0');
      for (char& c : s) c = static_cast<char>(rng());
      return s;
    }
  }
}

// One place a mutation can act on: a field of a message, or one element of
// a repeated field (index >= 0).
struct Slot {
  pb::Message* msg;
  const FD* field;
  int index;
};

void collect(pb::Message* m, std::vector<Slot>& out, int depth) {
  const pb::Reflection* r = m->GetReflection();
  const pb::Descriptor* d = m->GetDescriptor();
  for (int i = 0; i < d->field_count(); i++) {
    const FD* f = d->field(i);
    const bool sub = f->cpp_type() == FD::CPPTYPE_MESSAGE && depth < 12;
    if (f->is_repeated()) {
      out.push_back({m, f, -1});
      const int n = r->FieldSize(*m, f);
      for (int j = 0; j < n; j++) {
        out.push_back({m, f, j});
        if (sub && !f->is_map()) collect(r->MutableRepeatedMessage(m, f, j), out, depth + 1);
      }
    } else {
      out.push_back({m, f, -1});
      if (sub && r->HasField(*m, f)) collect(r->MutableMessage(m, f), out, depth + 1);
    }
  }
}

// A new element's value, or a sample of the message type from the corpus.
void fill_message(pb::Message* m, Rng& rng, const Dictionary& dict) {
  const auto& s = dict.samples(m->GetDescriptor()->full_name());
  if (!s.empty() && rng() % 4) (void)m->ParseFromString(s[rng() % s.size()]);
}

void set_scalar(pb::Message* m, const FD* f, int index, Rng& rng, const Dictionary& dict) {
  const pb::Reflection* r = m->GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
#define AMBER_FUZZ_INT(CPP, T, Get, Set, SetRep, GetRep)                                       \
  case FD::CPP: {                                                                              \
    uint64_t cur = static_cast<uint64_t>(rep ? r->GetRep(*m, f, index) : r->Get(*m, f));        \
    T v = static_cast<T>(pick_int(rng, dict, cur));                                            \
    if (rep)                                                                                   \
      r->SetRep(m, f, index, v);                                                               \
    else                                                                                       \
      r->Set(m, f, v);                                                                         \
    return;                                                                                    \
  }
    AMBER_FUZZ_INT(CPPTYPE_INT32, int32_t, GetInt32, SetInt32, SetRepeatedInt32, GetRepeatedInt32)
    AMBER_FUZZ_INT(CPPTYPE_INT64, int64_t, GetInt64, SetInt64, SetRepeatedInt64, GetRepeatedInt64)
    AMBER_FUZZ_INT(CPPTYPE_UINT32, uint32_t, GetUInt32, SetUInt32, SetRepeatedUInt32, GetRepeatedUInt32)
    AMBER_FUZZ_INT(CPPTYPE_UINT64, uint64_t, GetUInt64, SetUInt64, SetRepeatedUInt64, GetRepeatedUInt64)
#undef AMBER_FUZZ_INT
    case FD::CPPTYPE_BOOL:
      if (rep)
        r->SetRepeatedBool(m, f, index, !r->GetRepeatedBool(*m, f, index));
      else
        r->SetBool(m, f, !r->GetBool(*m, f));
      return;
    case FD::CPPTYPE_ENUM: {
      const pb::EnumDescriptor* e = f->enum_type();
      int v = rng() % 3 ? e->value(static_cast<int>(rng() % e->value_count()))->number()
                        : static_cast<int>(rng() % 70) - 2;
      if (rep)
        r->SetRepeatedEnumValue(m, f, index, v);
      else
        r->SetEnumValue(m, f, v);
      return;
    }
    case FD::CPPTYPE_STRING: {
      std::string cur = rep ? r->GetRepeatedString(*m, f, index) : r->GetString(*m, f);
      std::string v = pick_string(rng, dict, cur);
      // A `string` that is not UTF-8 does not even serialize cleanly; the
      // parser's refusal of it is reached by the byte mutations.
      if (f->type() == FD::TYPE_STRING && !valid_utf8(v)) v = "x";
      if (rep)
        r->SetRepeatedString(m, f, index, std::move(v));
      else
        r->SetString(m, f, std::move(v));
      return;
    }
    case FD::CPPTYPE_FLOAT:
    case FD::CPPTYPE_DOUBLE:
    case FD::CPPTYPE_MESSAGE:
      return;
  }
}

void add_element(pb::Message* m, const FD* f, Rng& rng, const Dictionary& dict) {
  const pb::Reflection* r = m->GetReflection();
  const int n = r->FieldSize(*m, f);
  if (n > 0 && rng() % 2) {  // a copy of an existing element
    const int from = static_cast<int>(rng() % n);
    switch (f->cpp_type()) {
      case FD::CPPTYPE_MESSAGE: r->AddMessage(m, f)->CopyFrom(r->GetRepeatedMessage(*m, f, from)); return;
      case FD::CPPTYPE_STRING: r->AddString(m, f, r->GetRepeatedString(*m, f, from)); return;
      case FD::CPPTYPE_INT32: r->AddInt32(m, f, r->GetRepeatedInt32(*m, f, from)); return;
      case FD::CPPTYPE_INT64: r->AddInt64(m, f, r->GetRepeatedInt64(*m, f, from)); return;
      case FD::CPPTYPE_UINT32: r->AddUInt32(m, f, r->GetRepeatedUInt32(*m, f, from)); return;
      case FD::CPPTYPE_UINT64: r->AddUInt64(m, f, r->GetRepeatedUInt64(*m, f, from)); return;
      default: break;
    }
  }
  switch (f->cpp_type()) {
    case FD::CPPTYPE_MESSAGE: fill_message(r->AddMessage(m, f), rng, dict); return;
    case FD::CPPTYPE_STRING: r->AddString(m, f, pick_string(rng, dict, "")); return;
    case FD::CPPTYPE_INT32: r->AddInt32(m, f, static_cast<int32_t>(pick_int(rng, dict, 0))); return;
    case FD::CPPTYPE_INT64: r->AddInt64(m, f, static_cast<int64_t>(pick_int(rng, dict, 0))); return;
    case FD::CPPTYPE_UINT32: r->AddUInt32(m, f, static_cast<uint32_t>(pick_int(rng, dict, 0))); return;
    case FD::CPPTYPE_UINT64: r->AddUInt64(m, f, pick_int(rng, dict, 0)); return;
    case FD::CPPTYPE_BOOL: r->AddBool(m, f, rng() % 2); return;
    case FD::CPPTYPE_ENUM: r->AddEnumValue(m, f, static_cast<int>(rng() % 12)); return;
    default: return;
  }
}

void mutate_message(pb::Message& root, Rng& rng, const Dictionary& dict) {
  std::vector<Slot> slots;
  collect(&root, slots, 0);
  if (slots.empty()) return;
  const Slot s = slots[rng() % slots.size()];
  pb::Message* m = s.msg;
  const FD* f = s.field;
  const pb::Reflection* r = m->GetReflection();
  if (f->is_repeated()) {
    const int n = r->FieldSize(*m, f);
    if (s.index < 0 || rng() % 3 == 0) {
      switch (rng() % 6) {
        case 0: r->ClearField(m, f); return;
        case 1: if (n > 0) r->RemoveLast(m, f); return;
        case 2: if (n > 1) r->SwapElements(m, f, static_cast<int>(rng() % n), static_cast<int>(rng() % n)); return;
        case 3:
          for (int i = 0; i < n / 2; i++) r->SwapElements(m, f, i, n - 1 - i);
          return;
        default: add_element(m, f, rng, dict); return;
      }
    }
    if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
      pb::Message* e = r->MutableRepeatedMessage(m, f, s.index);
      if (rng() % 2) {
        fill_message(e, rng, dict);
      } else {  // removed from the middle
        for (int i = s.index; i + 1 < n; i++) r->SwapElements(m, f, i, i + 1);
        r->RemoveLast(m, f);
      }
      return;
    }
    set_scalar(m, f, s.index, rng, dict);
    return;
  }
  if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
    if (rng() % 2)
      r->ClearField(m, f);
    else
      fill_message(r->MutableMessage(m, f), rng, dict);
    return;
  }
  set_scalar(m, f, -1, rng, dict);
}

std::string random_bytes(Rng& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Classic byte-level mutations of `s` (a payload or a raw file).
void mutate_bytes(std::string& s, Rng& rng, const std::string* other) {
  auto pos = [&](size_t n) { return n ? static_cast<size_t>(rng() % n) : 0; };
  switch (rng() % 10) {
    case 0:
      for (int i = 1 + rng() % 8; i > 0 && !s.empty(); i--) s[pos(s.size())] ^= static_cast<char>(1 << (rng() % 8));
      return;
    case 1:
      if (!s.empty()) s[pos(s.size())] = static_cast<char>(std::array{0x00, 0xff, 0x7f, 0x80, 0x01}[rng() % 5]);
      return;
    case 2: {  // an interesting integer, 1/2/4/8 bytes wide
      const size_t w = size_t{1} << (rng() % 4);
      if (s.size() < w) return;
      const uint64_t v = kInteresting[rng() % std::size(kInteresting)];
      std::memcpy(s.data() + pos(s.size() - w + 1), &v, w);
      return;
    }
    case 3: {  // a varint (protobuf lengths, tags and integers are varints)
      uint64_t v = kInteresting[rng() % std::size(kInteresting)];
      std::string enc;
      do {
        enc += static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
      } while (v);
      s.insert(pos(s.size() + 1), enc);
      return;
    }
    case 4: if (!s.empty()) { size_t at = pos(s.size()); s.erase(at, 1 + pos(std::min<size_t>(64, s.size() - at))); } return;
    case 5: s.insert(pos(s.size() + 1), random_bytes(rng, 1 + rng() % 16)); return;
    case 6:
      if (!s.empty()) {
        size_t at = pos(s.size()), n = 1 + pos(std::min<size_t>(s.size() - at, kMaxGrowth));
        s.insert(pos(s.size() + 1), s.substr(at, n));
      }
      return;
    case 7: s.resize(pos(s.size() + 1)); return;
    case 8:
      if (other && !other->empty()) {  // splice a piece of another file of the kind
        size_t at = pos(other->size()), n = 1 + pos(std::min<size_t>(other->size() - at, kMaxGrowth));
        size_t to = pos(s.size() + 1);
        s.replace(to, std::min(n, s.size() - to), other->substr(at, n));
      }
      return;
    default: s.append(random_bytes(rng, 1 + rng() % 64)); return;
  }
}

// Picks a file: metadata files far more often than raw data.
File* pick_file(Image& image, Rng& rng, bool metadata_only) {
  if (image.files.empty()) return nullptr;
  for (int tries = 0; tries < 8; tries++) {
    File& f = image.files[rng() % image.files.size()];
    if (header_kind(*f.data) != 0 || (!metadata_only && rng() % 4 == 0)) return &f;
  }
  return &image.files[rng() % image.files.size()];
}

// A file of another image: the same path if it has one, else any.
const File* other_file(const std::vector<Image>& corpus, Rng& rng, const std::string& path) {
  if (corpus.empty()) return nullptr;
  const Image& o = corpus[rng() % corpus.size()];
  if (const File* f = o.find(path)) return f;
  return o.files.empty() ? nullptr : &o.files[rng() % o.files.size()];
}

std::string payload_of(const std::string& data) { return data.substr(image::kHeaderSize); }
std::string with_payload(const std::string& data, const std::string& payload) {
  return data.substr(0, image::kHeaderSize) + payload;
}

void mutate_once(Image& image, Rng& rng, const Dictionary& dict, const std::vector<Image>& corpus, Fixup& fix) {
  const unsigned what = rng() % 100;
  if (what < 62) {  // a field of a message
    File* f = pick_file(image, rng, true);
    if (!f) return;
    const uint32_t kind = header_kind(*f->data);
    auto msg = image::new_message(kind);
    if (!msg || !msg->ParseFromString(payload_of(*f->data))) return;
    mutate_message(*msg, rng, dict);
    std::string payload;
    (void)msg->SerializeToString(&payload);
    image.set(f->path, with_payload(*f->data, payload));
  } else if (what < 77) {  // bytes of a payload
    File* f = pick_file(image, rng, true);
    if (!f) return;
    const File* o = other_file(corpus, rng, f->path);
    std::string other = o && header_kind(*o->data) ? payload_of(*o->data) : std::string();
    if (header_kind(*f->data) == 0) {
      std::string d = *f->data;
      mutate_bytes(d, rng, o ? o->data.get() : nullptr);
      image.set(f->path, std::move(d));
      return;
    }
    std::string p = payload_of(*f->data);
    mutate_bytes(p, rng, &other);
    image.set(f->path, with_payload(*f->data, p));
  } else if (what < 82) {  // the header
    File* f = pick_file(image, rng, true);
    if (!f || f->data->size() < image::kHeaderSize) return;
    std::string d = *f->data;
    switch (rng() % 5) {
      case 0: { uint32_t v = static_cast<uint32_t>(std::array<uint64_t, 4>{0, 2, 0xffffffff, 1}[rng() % 4]); std::memcpy(&d[8], &v, 4); break; }
      case 1: { uint32_t k = static_cast<uint32_t>(rng() % 13); std::memcpy(&d[12], &k, 4); break; }
      case 2: { uint64_t n = pick_int(rng, dict, d.size() - image::kHeaderSize); std::memcpy(&d[16], &n, 8); break; }
      case 3: d[rng() % 8] ^= 0x20; break;
      default: d[rng() % image::kHeaderSize] ^= static_cast<char>(1 << (rng() % 8)); break;
    }
    image.set(f->path, std::move(d));
    fix.headers[f->path] = rng() % 3 ? Fixup::Header::HeaderChecksumOnly : Fixup::Header::None;
  } else if (what < 90) {  // a whole file
    File* f = pick_file(image, rng, false);
    if (!f) return;
    const std::string path = f->path;
    switch (rng() % 6) {
      case 0: if (path != image::kInventoryFile) image.remove(path); return;
      case 1: {
        const size_t n = f->data->size();
        const size_t to = std::array<size_t, 5>{0, 39, 40, 41, n ? n - 1 : 0}[rng() % 5];
        image.set(path, f->data->substr(0, std::min(to, n)));
        fix.headers[path] = Fixup::Header::None;
        return;
      }
      case 2: image.set(path, *f->data + random_bytes(rng, 1 + rng() % 4096)); return;
      case 3: {
        if (const File* o = other_file(corpus, rng, path)) image.set(path, *o->data);
        return;
      }
      case 4: {  // two files swap contents
        File* g = pick_file(image, rng, false);
        if (!g || g == f) return;
        auto d = f->data;
        f->data = g->data;
        g->data = d;
        return;
      }
      default: {  // a page data file grows or shrinks by pages
        if (header_kind(*f->data) != 0) return;
        std::string d = *f->data;
        const size_t pages = 1 + rng() % 3;
        if (rng() % 2 || d.size() < pages * image::kPageSize)
          d.append(pages * image::kPageSize, '\0');
        else
          d.resize(d.size() - pages * image::kPageSize);
        image.set(path, std::move(d));
        return;
      }
    }
  } else if (what < 95) {  // raw data: flipped, the chunk checksums fixed or not
    std::vector<File*> raw;
    for (File& f : image.files)
      if (header_kind(*f.data) == 0 && !f.data->empty()) raw.push_back(&f);
    if (raw.empty()) return;
    File* f = raw[rng() % raw.size()];
    std::string d = *f->data;
    d[rng() % d.size()] ^= static_cast<char>(1 << (rng() % 8));
    image.set(f->path, std::move(d));
    if (rng() % 2) fix.chunk_checksums = false;
  } else if (what < 98) {  // the inventory's sizes as mutated
    fix.inventory_sizes = false;
    File* f = image.find(image::kInventoryFile);
    if (!f || header_kind(*f->data) != img::KIND_INVENTORY) return;
    img::Inventory inv;
    if (!inv.ParseFromString(payload_of(*f->data)) || inv.files_size() == 0) return;
    img::FileEntry* e = inv.mutable_files(static_cast<int>(rng() % inv.files_size()));
    e->set_size(pick_int(rng, dict, e->size()));
    image.set(f->path, with_payload(*f->data, inv.SerializeAsString()));
  } else {  // no fix-up at all: the integrity checks themselves
    File* f = pick_file(image, rng, false);
    if (!f) return;
    std::string d = *f->data;
    mutate_bytes(d, rng, nullptr);
    image.set(f->path, std::move(d));
    fix.headers[f->path] = Fixup::Header::None;
    fix.inventory_sizes = rng() % 2;
  }
}

std::string hdr(uint32_t version, uint32_t kind, const std::string& payload) {
  // encode_header writes the current version; a mutated one is kept.
  auto h = image::encode_header(static_cast<image::Kind>(kind), payload);
  std::string out(reinterpret_cast<const char*>(h.data()), h.size());
  std::memcpy(&out[8], &version, 4);
  const uint64_t sum = image::xxh3(std::string_view(out.data(), 32));
  std::memcpy(&out[32], &sum, 8);
  return out + payload;
}

bool changed(const Image* base, const File& f) {
  if (!base) return true;
  const File* b = base->find(f.path);
  return !b || b->data != f.data;
}

}  // namespace

uint32_t header_kind(const std::string& data) {
  if (data.size() < image::kHeaderSize || std::memcmp(data.data(), image::kMagic, sizeof image::kMagic) != 0) return 0;
  uint32_t kind;
  std::memcpy(&kind, data.data() + 12, 4);
  return kind == 0 ? uint32_t{0xffffffff} : kind;
}

void Dictionary::add_message(const pb::Message& m, int depth) {
  auto& v = samples_[m.GetDescriptor()->full_name()];
  if (v.size() < kMaxSamplesPerType) v.push_back(m.SerializeAsString());
  const pb::Reflection* r = m.GetReflection();
  std::vector<const FD*> fields;
  r->ListFields(m, &fields);
  for (const FD* f : fields) {
    const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
    for (int i = 0; i < n; i++) {
      const bool rep = f->is_repeated();
      uint64_t iv = 0;
      switch (f->cpp_type()) {
        case FD::CPPTYPE_MESSAGE:
          if (depth < 12) add_message(rep ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f), depth + 1);
          continue;
        case FD::CPPTYPE_STRING: {
          std::string s = rep ? r->GetRepeatedString(m, f, i) : r->GetString(m, f);
          if (s.size() <= 256 && strings_.size() < kMaxStrings && string_set_.insert(s).second) strings_.push_back(s);
          continue;
        }
        case FD::CPPTYPE_INT32: iv = static_cast<uint64_t>(rep ? r->GetRepeatedInt32(m, f, i) : r->GetInt32(m, f)); break;
        case FD::CPPTYPE_INT64: iv = static_cast<uint64_t>(rep ? r->GetRepeatedInt64(m, f, i) : r->GetInt64(m, f)); break;
        case FD::CPPTYPE_UINT32: iv = rep ? r->GetRepeatedUInt32(m, f, i) : r->GetUInt32(m, f); break;
        case FD::CPPTYPE_UINT64: iv = rep ? r->GetRepeatedUInt64(m, f, i) : r->GetUInt64(m, f); break;
        default: continue;
      }
      if (ints_.size() < kMaxInts && int_set_.insert(iv).second) ints_.push_back(iv);
    }
  }
}

void Dictionary::add(const Image& image) {
  for (const File& f : image.files) {
    auto msg = image::new_message(header_kind(*f.data));
    if (msg && msg->ParseFromString(payload_of(*f.data))) add_message(*msg, 0);
    if (strings_.size() < kMaxStrings && string_set_.insert(f.path).second) strings_.push_back(f.path);
  }
}

const std::vector<std::string>& Dictionary::samples(const std::string& type) const {
  static const std::vector<std::string> none;
  auto it = samples_.find(type);
  return it == samples_.end() ? none : it->second;
}

Fixup mutate(Image& image, Rng& rng, const Dictionary& dict, const std::vector<Image>& corpus) {
  Fixup fix;
  int n = 1;
  while (n < 6 && rng() % 2) n++;
  for (int i = 0; i < n; i++) mutate_once(image, rng, dict, corpus, fix);
  return fix;
}

void fixup(Image& image, const Fixup& how, const Image* base) {
  // Page chunk checksums: over the data as it now is, as many chunks as
  // the index has (a wrong count stays wrong).
  if (how.chunk_checksums) {
    for (File& f : image.files) {
      if (header_kind(*f.data) != img::KIND_PAGES_INDEX) continue;
      img::PagesIndex ix;
      if (!ix.ParseFromString(payload_of(*f.data)) || !image::check_relpath(ix.data_file())) continue;
      const File* data = image.find(ix.data_file());
      if (!data || !(changed(base, f) || changed(base, *data))) continue;
      for (int i = 0; i < ix.chunk_xxh3_size(); i++) {
        const uint64_t at = uint64_t(i) * image::kChunkSize;
        if (at >= data->data->size()) break;
        const size_t n = std::min<uint64_t>(image::kChunkSize, data->data->size() - at);
        ix.set_chunk_xxh3(i, image::xxh3(std::string_view(data->data->data() + at, n)));
      }
      image.set(f.path, with_payload(*f.data, ix.SerializeAsString()));
    }
    // A tmpfs's file checksums, the same way.
    for (File& f : image.files) {
      if (header_kind(*f.data) != img::KIND_FS_TREE) continue;
      img::FsTree tree;
      if (!tree.ParseFromString(payload_of(*f.data)) || !image::check_relpath(tree.data_file())) continue;
      const File* data = image.find(tree.data_file());
      if (!data || !(changed(base, f) || changed(base, *data))) continue;
      for (img::FsEntry& e : *tree.mutable_entries()) {
        if ((e.mode() & S_IFMT) != S_IFREG || e.data_offset() > data->data->size() ||
            e.size() > data->data->size() - e.data_offset())
          continue;
        e.set_xxh3(image::xxh3(std::string_view(data->data->data() + e.data_offset(), e.size())));
      }
      image.set(f.path, with_payload(*f.data, tree.SerializeAsString()));
    }
  }
  auto fix_header = [&](File& f) {
    if (!changed(base, f) || header_kind(*f.data) == 0) return;
    auto it = how.headers.find(f.path);
    const auto mode = it == how.headers.end() ? Fixup::Header::Full : it->second;
    if (mode == Fixup::Header::None) return;
    std::string d = *f.data;
    uint32_t version, kind;
    std::memcpy(&version, d.data() + 8, 4);
    std::memcpy(&kind, d.data() + 12, 4);
    if (mode == Fixup::Header::Full) {
      d = hdr(version, kind, payload_of(d));
    } else {
      const uint64_t sum = image::xxh3(std::string_view(d.data(), 32));
      std::memcpy(&d[32], &sum, 8);
    }
    image.set(f.path, std::move(d));
  };
  for (File& f : image.files)
    if (f.path != image::kInventoryFile) fix_header(f);

  File* inv_file = image.find(image::kInventoryFile);
  if (!inv_file) return;
  if (how.inventory_sizes && header_kind(*inv_file->data) == img::KIND_INVENTORY) {
    img::Inventory inv;
    if (inv.ParseFromString(payload_of(*inv_file->data))) {
      bool any = false;
      for (img::FileEntry& e : *inv.mutable_files())
        if (const File* f = image.find(e.path()); f && e.size() != f->data->size()) {
          e.set_size(f->data->size());
          any = true;
        }
      if (any) image.set(inv_file->path, with_payload(*inv_file->data, inv.SerializeAsString()));
    }
  }
  fix_header(*image.find(image::kInventoryFile));
}

}  // namespace amber::fuzz
