// Page store: round trips (multi-run, merged appends, runs over 1 MiB and
// over the reader's buffer), and refusal of truncated or corrupt page data by
// validate_size(), the streaming reader and verify_all().
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <thread>
#include <random>
#include <vector>

#include "image/layout.h"
#include "image/pages.h"
#include "image/reader.h"
#include "image/writer.h"
#include "kinds/mm_cow.h"
#include "image_test_util.h"
#include "test_key.h"

using namespace amber;
using namespace amber::image;
using namespace amber::image::testing;

namespace {

// Pseudo-random page contents, different for every page of every run.
std::vector<std::byte> pattern(size_t pages, uint32_t seed) {
  std::vector<std::byte> v(pages * kPageSize);
  std::mt19937 rng(seed);
  for (size_t i = 0; i < v.size(); i += 4) {
    uint32_t x = rng();
    std::memcpy(&v[i], &x, 4);
  }
  return v;
}

struct Append {
  uint64_t vaddr;
  std::vector<std::byte> data;
};

class Pages : public ScratchDir {
 protected:
  // Writes `appends` as task 1's page store of image `dir`.
  void write_store(const std::string& dir, const std::vector<Append>& appends) {
    auto w = ImageWriter::create(dir, test_key());
    ASSERT_TRUE(w) << w.error().message;
    auto pw = PageWriter::create(*w, pages_index_path(1), pages_data_path(1));
    ASSERT_TRUE(pw) << pw.error().message;
    for (const Append& a : appends) {
      auto st = pw->append(a.vaddr, a.data);
      ASSERT_TRUE(st) << st.error().message;
    }
    ASSERT_TRUE(pw->finish());
    ASSERT_TRUE(w->commit());
  }

  Result<PageReader> open_store(const std::string& dir) {
    auto r = ImageReader::open(dir, test_key());
    if (!r) return std::unexpected(r.error());
    reader_.emplace(std::move(*r));
    return PageReader::open(*reader_, pages_index_path(1));
  }

  // Memory as the streaming reader rebuilds it: vaddr of each page -> bytes.
  static Result<std::map<uint64_t, std::vector<std::byte>>> stream(PageReader& p, size_t* pieces = nullptr) {
    std::map<uint64_t, std::vector<std::byte>> mem;
    size_t n = 0;
    auto st = p.for_each_run([&](uint64_t vaddr, std::span<const std::byte> data) -> Status {
      EXPECT_EQ(vaddr % kPageSize, 0u);
      EXPECT_EQ(data.size() % kPageSize, 0u);
      EXPECT_LE(data.size(), kReadBuffer);
      for (size_t off = 0; off < data.size(); off += kPageSize)
        mem[vaddr + off].assign(data.begin() + off, data.begin() + off + kPageSize);
      n++;
      return {};
    });
    if (!st) return std::unexpected(st.error());
    if (pieces) *pieces = n;
    return mem;
  }

  static std::map<uint64_t, std::vector<std::byte>> expected(const std::vector<Append>& appends) {
    std::map<uint64_t, std::vector<std::byte>> mem;
    for (const Append& a : appends)
      for (size_t off = 0; off < a.data.size(); off += kPageSize)
        mem[a.vaddr + off].assign(a.data.begin() + off, a.data.begin() + off + kPageSize);
    return mem;
  }

  std::optional<ImageReader> reader_;
};

TEST_F(Pages, RoundTripMultiRunWithMerges) {
  const uint64_t M = 1 << 20;
  std::vector<Append> appends = {
      {0x10000, pattern(1, 1)},
      {0x11000, pattern(2, 2)},                  // contiguous: merged into run 0
      {0x20000, pattern(3, 3)},                  // gap: run 1
      {0x40000000, pattern((3 * M) / kPageSize + 5, 4)},  // > 1 MiB, not chunk-aligned: run 2
      {0x40000000 + 3 * M + 5 * kPageSize, pattern(7, 5)},  // merged into run 2
      {0x7f0000000000, pattern(1, 6)},           // run 3
  };
  std::string dir = path("img");
  write_store(dir, appends);

  auto p = open_store(dir);
  ASSERT_TRUE(p) << p.error().message;
  const img::PagesIndex& ix = p->index();
  ASSERT_EQ(ix.runs_size(), 4);
  EXPECT_EQ(ix.runs(0).vaddr(), 0x10000u);
  EXPECT_EQ(ix.runs(0).nr_pages(), 3u);
  EXPECT_EQ(ix.runs(1).vaddr(), 0x20000u);
  EXPECT_EQ(ix.runs(1).file_offset(), 3 * kPageSize);
  EXPECT_EQ(ix.runs(2).nr_pages(), 3 * M / kPageSize + 12);
  EXPECT_EQ(ix.runs(3).nr_pages(), 1u);
  uint64_t total = 0;
  for (const Append& a : appends) total += a.data.size();
  EXPECT_EQ(ix.total_size(), total);
  EXPECT_EQ(p->nr_pages(), total / kPageSize);
  EXPECT_EQ(ix.chunk_tags().size(), (total + kChunkSize - 1) / kChunkSize * kTagSize);
  EXPECT_EQ(ix.chunk_xxh3_size(), 0) << "an authenticated store has tags, no checksums";
  EXPECT_EQ(file_size(dir + "/" + pages_data_path(1)), static_cast<off_t>(total)) << "page data only, no headers";
  ASSERT_TRUE(p->validate_size());

  auto mem = stream(*p);
  ASSERT_TRUE(mem) << mem.error().message;
  EXPECT_EQ(*mem, expected(appends));

  ASSERT_TRUE(p->map());
  ASSERT_TRUE(p->verify_all());
  // The mapping holds each run's pages where the index says.
  auto exp = expected(appends);
  for (int i = 0; i < ix.runs_size(); i++) {
    auto data = p->run_data(i);
    ASSERT_EQ(data.size(), ix.runs(i).nr_pages() * kPageSize);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(data.data()) % kPageSize, 0u) << "run " << i << " not page-aligned";
    for (uint64_t pg = 0; pg < ix.runs(i).nr_pages(); pg++) {
      std::vector<std::byte> got(data.begin() + pg * kPageSize, data.begin() + (pg + 1) * kPageSize);
      ASSERT_EQ(got, exp[ix.runs(i).vaddr() + pg * kPageSize]) << "run " << i << " page " << pg;
    }
  }

  auto r = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->validate());
}

// One run bigger than the reader's buffer arrives in several pieces, in order.
TEST_F(Pages, RunLargerThanReadBuffer) {
  size_t pages = (kReadBuffer + 3 * kChunkSize) / kPageSize + 1;
  std::vector<Append> appends = {{0x100000000, pattern(pages, 7)}};
  std::string dir = path("img");
  write_store(dir, appends);
  auto p = open_store(dir);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->index().runs_size(), 1);
  size_t pieces = 0;
  auto mem = stream(*p, &pieces);
  ASSERT_TRUE(mem) << mem.error().message;
  EXPECT_EQ(pieces, 2u);
  EXPECT_EQ(*mem, expected(appends));
  // The buffer is reused: a second pass gives the same.
  auto again = stream(*p);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *mem);
  EXPECT_TRUE(p->verify_all());
}

TEST_F(Pages, EmptyStore) {
  std::string dir = path("img");
  write_store(dir, {});
  auto p = open_store(dir);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->index().runs_size(), 0);
  EXPECT_EQ(p->index().total_size(), 0u);
  auto mem = stream(*p);
  ASSERT_TRUE(mem);
  EXPECT_TRUE(mem->empty());
  EXPECT_TRUE(p->verify_all());
}

TEST_F(Pages, AppendRefusesMisuse) {
  auto w = ImageWriter::create(path("img"), test_key());
  ASSERT_TRUE(w);
  auto pw = PageWriter::create(*w, pages_index_path(1), pages_data_path(1));
  ASSERT_TRUE(pw);
  auto page = pattern(2, 1);
  EXPECT_FALSE(pw->append(0x1001, page)) << "unaligned address";
  EXPECT_FALSE(pw->append(0x1000, std::span(page).first(100))) << "partial page";
  ASSERT_TRUE(pw->append(0x10000, page));
  EXPECT_FALSE(pw->append(0x10000, page)) << "overlap";
  EXPECT_FALSE(pw->append(0x1000, page)) << "descending";
  EXPECT_FALSE(pw->append(~uint64_t{0} & ~uint64_t{0xfff}, page)) << "wraps";
  EXPECT_TRUE(pw->append(0x12000, {})) << "empty append is a no-op";
  ASSERT_TRUE(pw->finish());
  EXPECT_FALSE(pw->append(0x20000, page)) << "after finish";
  EXPECT_FALSE(pw->finish());
  EXPECT_EQ(pw->index().runs_size(), 1);
}

TEST_F(Pages, TruncatedDataRefusedUpFront) {
  std::vector<Append> appends = {{0x10000, pattern(300, 1)}, {0x400000, pattern(5, 2)}};
  std::string dir = path("img");
  write_store(dir, appends);
  std::string data = dir + "/" + pages_data_path(1);
  off_t size = file_size(data);
  truncate_by(data, kPageSize);

  auto r = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r);
  auto v = r->validate();
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().exit, Exit::BadInput);
  EXPECT_EQ(v.error().message,
            fmt::format("{}: truncated: {} bytes, the inventory says {}", data, size - kPageSize, size));

  auto p = open_store(dir);
  ASSERT_TRUE(p) << p.error().message;
  auto s = p->validate_size();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().exit, Exit::BadInput);
  EXPECT_EQ(s.error().message, fmt::format("{}: truncated: {} bytes, the index says {}", data, size - kPageSize, size));
  bool called = false;
  auto st = p->for_each_run([&](uint64_t, std::span<const std::byte>) -> Status {
    called = true;
    return {};
  });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::BadInput);
  EXPECT_FALSE(called) << "data handed out from a truncated store";
  auto m = p->map();
  ASSERT_FALSE(m) << "mapping a truncated file would SIGBUS later";
  EXPECT_EQ(m.error().exit, Exit::BadInput);
}

TEST_F(Pages, FlippedByteInPageData) {
  // 3 chunks and a bit; corrupt a byte in chunk 2.
  std::vector<Append> appends = {{0x10000, pattern(3 * kChunkSize / kPageSize + 10, 9)}};
  std::string dir = path("img");
  write_store(dir, appends);
  std::string data = dir + "/" + pages_data_path(1);
  flip_byte(data, 2 * kChunkSize + 12345);

  // Sizes are right: the up-front check passes, the data check does not.
  auto r = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->validate());

  std::string expect = fmt::format("{}: chunk 2 (bytes {}..{}) not authenticated with this key (modified, or made "
                                   "with another key)", data, 2 * kChunkSize, 3 * kChunkSize);
  auto p = open_store(dir);
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->validate_size());
  uint64_t handed_out = 0;
  auto st = p->for_each_run([&](uint64_t, std::span<const std::byte> d) -> Status {
    handed_out += d.size();
    return {};
  });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::BadInput);
  EXPECT_EQ(st.error().message, expect);
  EXPECT_EQ(handed_out, 0u) << "pages of a corrupt slice were handed out";

  auto p2 = open_store(dir);
  ASSERT_TRUE(p2);
  auto va = p2->verify_all();
  ASSERT_FALSE(va);
  EXPECT_EQ(va.error().exit, Exit::BadInput);
  EXPECT_EQ(va.error().message, expect);
}

// Corruption in a later slice of a long stream: the earlier, good slices
// were handed out, the bad one is not.
TEST_F(Pages, CorruptionMidStreamStopsAtTheBadSlice) {
  size_t pages = 2 * kReadBuffer / kPageSize + 3;
  std::vector<Append> appends = {{0x10000, pattern(pages, 11)}};
  std::string dir = path("img");
  write_store(dir, appends);
  std::string data = dir + "/" + pages_data_path(1);
  uint64_t bad = kReadBuffer + 5 * kChunkSize + 1;
  flip_byte(data, static_cast<off_t>(bad));
  auto p = open_store(dir);
  ASSERT_TRUE(p);
  uint64_t handed_out = 0;
  auto st = p->for_each_run([&](uint64_t, std::span<const std::byte> d) -> Status {
    handed_out += d.size();
    return {};
  });
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("chunk 13 "), std::string::npos) << st.error().message;
  EXPECT_EQ(handed_out, kReadBuffer);
}

TEST_F(Pages, SinkErrorStopsTheWalk) {
  std::string dir = path("img");
  write_store(dir, {{0x10000, pattern(1, 1)}, {0x30000, pattern(1, 2)}});
  auto p = open_store(dir);
  ASSERT_TRUE(p);
  int calls = 0;
  auto st = p->for_each_run([&](uint64_t vaddr, std::span<const std::byte>) -> Status {
    calls++;
    return failf("restore: mmap 0x{:x}: Cannot allocate memory", vaddr);
  });
  ASSERT_FALSE(st);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(st.error().message, "restore: mmap 0x10000: Cannot allocate memory");
}

TEST_F(Pages, InconsistentIndexRefused) {
  // An index whose runs overlap, written as a well-formed file.
  std::string dir = path("img");
  {
    auto w = ImageWriter::create(dir, test_key());
    ASSERT_TRUE(w);
    auto raw = w->create_raw(pages_data_path(1), img::KIND_PAGES_DATA);
    ASSERT_TRUE(raw);
    auto data = pattern(2, 1);
    ASSERT_TRUE(write_all(raw->get(), data.data(), data.size()));
    img::PagesIndex ix;
    ix.set_data_file(pages_data_path(1));
    ix.set_page_size(kPageSize);
    ix.set_chunk_size(kChunkSize);
    ix.set_total_size(2 * kPageSize);
    ix.add_chunk_xxh3(xxh3(std::span<const std::byte>(data)));
    auto* a = ix.add_runs();
    a->set_vaddr(0x10000);
    a->set_nr_pages(1);
    auto* b = ix.add_runs();
    b->set_vaddr(0x10000);
    b->set_nr_pages(1);
    b->set_file_offset(kPageSize);
    ASSERT_TRUE(w->write(pages_index_path(1), img::KIND_PAGES_INDEX, ix));
    ASSERT_TRUE(w->commit());
  }
  auto p = open_store(dir);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().exit, Exit::BadInput);
  EXPECT_EQ(p.error().message, dir + "/" + pages_index_path(1) +
                                   ": corrupt: run 1 at 0x10000 overlaps or precedes the previous run");
  auto r = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->validate());
}

// A data file whose PageWriter never finished has no index: not an image.
TEST_F(Pages, UnfinishedStoreRefused) {
  std::string dir = path("img");
  {
    auto w = ImageWriter::create(dir, test_key());
    ASSERT_TRUE(w);
    auto pw = PageWriter::create(*w, pages_index_path(1), pages_data_path(1));
    ASSERT_TRUE(pw);
    ASSERT_TRUE(pw->append(0x1000, pattern(1, 1)));
    ASSERT_TRUE(w->commit());
  }
  auto r = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r);
  auto v = r->validate();
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message, dir + "/" + pages_data_path(1) + ": corrupt: page data without an index");
}

}  // namespace

// The parallel writer (plan + write_at from several threads) builds the same
// index and bytes as appends of the same memory, and zero stretches of
// kMinHole or more stay holes of a sparse file that still reads back right.
TEST_F(Pages, PlannedWritesFromThreadsMatchAppendsAndLeaveZeroHoles) {
  const uint64_t M = 1 << 20;
  std::vector<Append> appends = {
      {0x10000, pattern(3, 1)},
      {0x40000000, pattern(5 * M / kPageSize + 3, 2)},  // several chunks, not chunk-aligned
      {0x7f0000000000, pattern(2, 3)},
  };
  // Zero stretches in run 1: one of 256 KiB (a hole), one of 8 KiB (written).
  auto& big = appends[1].data;
  std::fill(big.begin() + M, big.begin() + M + 256 * 1024, std::byte{0});
  std::fill(big.begin() + 3 * M, big.begin() + 3 * M + 8192, std::byte{0});

  std::string by_append = path("a"), planned = path("p");
  write_store(by_append, appends);
  {
    auto w = ImageWriter::create(planned, test_key());
    ASSERT_TRUE(w) << w.error().message;
    auto pw = PageWriter::create(*w, pages_index_path(1), pages_data_path(1));
    ASSERT_TRUE(pw) << pw.error().message;
    std::vector<PageWriter::Run> runs;
    std::vector<std::byte> flat;
    for (const Append& a : appends) {
      runs.push_back({a.vaddr, a.data.size()});
      flat.insert(flat.end(), a.data.begin(), a.data.end());
    }
    ASSERT_TRUE(pw->plan(runs));
    // Chunks written out of order by two threads.
    std::vector<std::thread> ts;
    const uint64_t chunks = (flat.size() + kChunkSize - 1) / kChunkSize;
    for (int t = 0; t < 2; t++)
      ts.emplace_back([&, t] {
        for (uint64_t c = chunks - 1 - t; c < chunks; c -= 2) {
          uint64_t from = c * kChunkSize, to = std::min<uint64_t>(flat.size(), from + kChunkSize);
          auto st = pw->write_at(from, std::span<const std::byte>(flat.data() + from, to - from));
          EXPECT_TRUE(st) << st.error().message;
          if (c < 2) break;
        }
      });
    for (auto& t : ts) t.join();
    auto fin = pw->finish();
    ASSERT_TRUE(fin) << fin.error().message;
    ASSERT_TRUE(w->commit());
  }
  auto a = open_store(by_append);
  ASSERT_TRUE(a);
  img::PagesIndex ia = a->index();
  auto p = open_store(planned);
  ASSERT_TRUE(p) << p.error().message;
  // Two images: two salts, so two keys and other tags; the rest is the same.
  img::PagesIndex ip = p->index();
  EXPECT_EQ(ip.chunk_tags().size(), ia.chunk_tags().size());
  ip.clear_chunk_tags();
  ia.clear_chunk_tags();
  EXPECT_EQ(ip.SerializeAsString(), ia.SerializeAsString()) << "same runs and offsets";
  auto mem = stream(*p);
  ASSERT_TRUE(mem) << mem.error().message;
  EXPECT_EQ(*mem, expected(appends));
  ASSERT_TRUE(p->map());
  EXPECT_TRUE(p->verify_all());

  // The 256 KiB zero stretch is a hole; the 8 KiB one was written.
  struct stat st {};
  ASSERT_EQ(::stat((planned + "/" + pages_data_path(1)).c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), ia.total_size());
  const uint64_t run1 = 3 * kPageSize;  // run 1's file offset
  int fd = ::open((planned + "/" + pages_data_path(1)).c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::lseek(fd, static_cast<off_t>(run1 + M), SEEK_HOLE), static_cast<off_t>(run1 + M));
  EXPECT_EQ(::lseek(fd, static_cast<off_t>(run1 + M), SEEK_DATA), static_cast<off_t>(run1 + M + 256 * 1024));
  EXPECT_GT(::lseek(fd, static_cast<off_t>(run1 + 3 * M), SEEK_HOLE), static_cast<off_t>(run1 + 3 * M + 8192));
  ::close(fd);
}

TEST_F(Pages, PlannedWriterRefusesMisuse) {
  auto w = ImageWriter::create(path("img"), test_key());
  ASSERT_TRUE(w);
  auto pw = PageWriter::create(*w, pages_index_path(1), pages_data_path(1));
  ASSERT_TRUE(pw);
  auto data = pattern(512, 9);  // 2 MiB
  EXPECT_FALSE(pw->write_at(0, data)) << "write_at before plan";
  std::vector<PageWriter::Run> overlapping = {{0x20000, 2 * kPageSize}, {0x21000, kPageSize}};
  EXPECT_FALSE(pw->plan(overlapping));
  auto pw2 = PageWriter::create(*w, pages_index_path(2), pages_data_path(2));
  ASSERT_TRUE(pw2);
  std::vector<PageWriter::Run> runs = {{0x100000, data.size()}};
  ASSERT_TRUE(pw2->plan(runs));
  EXPECT_FALSE(pw2->write_at(kPageSize, std::span(data).first(kChunkSize))) << "not chunk-aligned";
  EXPECT_FALSE(pw2->append(0x900000, std::span(data).first(kPageSize))) << "append after plan";
  ASSERT_TRUE(pw2->write_at(0, std::span(data).first(kChunkSize)));
  auto fin = pw2->finish();
  ASSERT_FALSE(fin) << "half of the plan written";
  EXPECT_NE(fin.error().message.find("of 2097152 planned bytes written"), std::string::npos) << fin.error().message;
}

// Copy-on-write: a child's pages listed as its parent's (parent_runs) are
// found in the nearest ancestor's store that holds them, the grandparent's
// when the parent shares them too; a parent run over a stored one, or one
// no ancestor holds, is a corrupt image.
class ParentRuns : public Pages {
 protected:
  struct Store {
    std::vector<Append> runs;
    std::vector<PageWriter::Run> parent;
  };
  // Stores of tasks 1.. (index i = task i + 1).
  Result<std::vector<PageReader>> write_open(const std::vector<Store>& stores) {
    const std::string dir = path(fmt::format("img{}", n_++));
    {
      auto w = ImageWriter::create(dir, test_key());
      if (!w) return std::unexpected(w.error());
      for (size_t i = 0; i < stores.size(); i++) {
        const pid_t t = static_cast<pid_t>(i + 1);
        auto pw = TRY(PageWriter::create(*w, pages_index_path(t), pages_data_path(t)));
        for (const Append& a : stores[i].runs) TRY(pw.append(a.vaddr, a.data));
        TRY(pw.add_parent_runs(stores[i].parent));
        TRY(pw.finish());
      }
      TRY(w->commit());
    }
    reader_.emplace(TRY(ImageReader::open(dir, test_key())));
    std::vector<PageReader> out;
    for (size_t i = 0; i < stores.size(); i++)
      out.push_back(TRY(PageReader::open(*reader_, pages_index_path(static_cast<pid_t>(i + 1)))));
    return out;
  }
  int n_ = 0;
};

TEST_F(ParentRuns, ResolvedThroughTheAncestors) {
  const uint64_t b = 0x7f0000000000;
  auto gp = pattern(4, 1), par = pattern(1, 2);
  auto r = write_open({
      {{{b, gp}}, {}},                                                    // grandparent: 4 pages
      {{{b + kPageSize, par}}, {{b, kPageSize}, {b + 2 * kPageSize, 2 * kPageSize}}},  // parent: 1 own
      {{}, {{b, 4 * kPageSize}}},                                         // child: all 4 its parent's
  });
  ASSERT_TRUE(r) << r.error().message;
  const std::vector<PageReader>& s = *r;
  EXPECT_EQ(s[2].index().parent_runs_size(), 1);
  struct Got {
    const PageReader* store;
    uint64_t vaddr, len, off;
    bool operator==(const Got&) const = default;
  };
  std::vector<Got> got;
  std::vector<const PageReader*> ancestors = {&s[1], &s[0]};
  auto st = kinds::for_each_parent_piece(s[2].index(), ancestors,
                                         [&](const PageReader& store, uint64_t v, uint64_t n, uint64_t off) -> Status {
                                           got.push_back({&store, v, n, off});
                                           return {};
                                         });
  ASSERT_TRUE(st) << st.error().message;
  std::vector<Got> want = {{&s[0], b, kPageSize, 0},
                           {&s[1], b + kPageSize, kPageSize, 0},
                           {&s[0], b + 2 * kPageSize, 2 * kPageSize, 2 * kPageSize}};
  EXPECT_EQ(got, want);
  // Without the grandparent, the pages only it holds are nowhere.
  std::vector<const PageReader*> parent_only = {&s[1]};
  auto lost = kinds::for_each_parent_piece(s[2].index(), parent_only,
                                           [](const PageReader&, uint64_t, uint64_t, uint64_t) -> Status { return {}; });
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().exit, Exit::BadInput);
  EXPECT_NE(lost.error().message.find("no ancestor stores them"), std::string::npos) << lost.error().message;
}

TEST_F(ParentRuns, OverlapWithStoredRunRefused) {
  const uint64_t b = 0x7f0000000000;
  auto r = write_open({{{{b, pattern(2, 3)}}, {{b + kPageSize, kPageSize}}}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::BadInput);
  EXPECT_NE(r.error().message.find("overlaps the stored run"), std::string::npos) << r.error().message;
}

TEST_F(ParentRuns, WriterRefusesDescendingRuns) {
  auto w = ImageWriter::create(path("img"), test_key());
  ASSERT_TRUE(w);
  auto pw = PageWriter::create(*w, pages_index_path(1), pages_data_path(1));
  ASSERT_TRUE(pw);
  std::vector<PageWriter::Run> runs = {{0x20000, kPageSize}, {0x10000, kPageSize}};
  EXPECT_FALSE(pw->add_parent_runs(runs));
}
