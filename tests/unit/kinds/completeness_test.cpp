// The completeness table: every /proc field amber sees is classified;
// unknown keys, refused values and inherited values unlike amber's own
// refuse (exit 4); what restore verifies is recorded normalized.
#include "kinds/completeness.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/files.h"
#include "sys/procfs.h"

using namespace amber;
using kinds::ProcSource;

namespace {

kinds::Reference own() {
  auto r = kinds::read_reference();
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : kinds::Reference{};
}

}  // namespace

TEST(Completeness, EveryFieldOfOurOwnProcFilesIsClassified) {
  // This process's status, stat and sched are a live sample of this
  // kernel: none of their keys may be unknown, and every value is amber's own.
  kinds::Reference ref = own();
  auto status = kinds::parse_status_fields(read_file("/proc/thread-self/status").value());
  auto st = kinds::check_fields(ProcSource::Status, status, ref, "self");
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(st->at("NSpid"), std::to_string(::gettid())) << "the innermost pid";
  EXPECT_TRUE(st->contains("SigBlk"));
  EXPECT_FALSE(st->contains("VmRSS")) << "informational fields are not recorded";
  auto stat = kinds::parse_stat_fields(read_file("/proc/thread-self/stat").value());
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->size(), 52u);
  auto sf = kinds::check_fields(ProcSource::Stat, *stat, ref, "self");
  ASSERT_TRUE(sf) << sf.error().message;
  auto sched = kinds::parse_sched_fields(read_file("/proc/thread-self/sched").value());
  auto sc = kinds::check_fields(ProcSource::Sched, sched, ref, "self");
  ASSERT_TRUE(sc) << sc.error().message;
  EXPECT_TRUE(sc->contains("policy"));
}

TEST(Completeness, AnUnknownStatusLineRefusesByName) {
  kinds::Reference ref = own();
  auto fields = kinds::parse_status_fields(read_file("/proc/thread-self/status").value() + "Brand_new_feature:\t1\n");
  auto r = kinds::check_fields(ProcSource::Status, fields, ref, "task 3");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::Unsupported);
  EXPECT_NE(r.error().message.find("task 3"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("Brand_new_feature"), std::string::npos) << r.error().message;
}

TEST(Completeness, RefusedAndInheritedValuesRefuse) {
  kinds::Reference ref = own();
  auto pinned = kinds::check_fields(ProcSource::Status, {{"VmPin", "4 kB"}}, ref, "task 2");
  ASSERT_FALSE(pinned);
  EXPECT_EQ(pinned.error().exit, Exit::Unsupported);
  EXPECT_NE(pinned.error().message.find("pinned"), std::string::npos) << pinned.error().message;
  EXPECT_TRUE(kinds::check_fields(ProcSource::Status, {{"VmPin", "0 kB"}}, ref, "task 2"));
  auto locked = kinds::check_fields(ProcSource::Status, {{"VmLck", "4 kB"}}, ref, "task 2");
  ASSERT_TRUE(locked) << "mlock is restored (VmFlags lo, lf per area)";
  // Speculation control is not restored: only amber's own value is accepted.
  std::string mine = ref.status.at("Speculation_Store_Bypass");
  std::string other = mine == "thread force mitigated" ? "thread vulnerable" : "thread force mitigated";
  auto spec = kinds::check_fields(ProcSource::Status, {{"Speculation_Store_Bypass", other}}, ref, "task 2");
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().message.find("speculation"), std::string::npos) << spec.error().message;
  auto same = kinds::check_fields(ProcSource::Status, {{"Speculation_Store_Bypass", mine}}, ref, "task 2");
  ASSERT_TRUE(same);
  EXPECT_EQ(same->at("Speculation_Store_Bypass"), mine) << "recorded for the verification";
  // A nice value is restored (kinds/task_attrs): recorded, verified.
  auto niced = kinds::check_fields(ProcSource::Stat, {{"19", "5"}}, ref, "task 2");
  ASSERT_TRUE(niced);
  EXPECT_EQ(niced->at("19"), "5");
  // Deadline parameters appear only for SCHED_DEADLINE tasks: their presence refuses.
  EXPECT_FALSE(kinds::check_fields(ProcSource::Sched, {{"dl.runtime", "1000"}}, ref, "task 2"));
}

TEST(Completeness, SchedAccountingIsInformational) {
  kinds::Reference ref = own();
  auto r = kinds::check_fields(ProcSource::Sched,
                               {{"se.exec_start", "1.5"}, {"nr_switches", "4"}, {"numa_faults", "node=0"},
                                {"se.statistics.wait_max", "0"}},
                               ref, "t");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->empty());
  EXPECT_FALSE(kinds::check_fields(ProcSource::Sched, {{"brand.new", "1"}}, ref, "t"));
}

TEST(Completeness, VmFlags) {
  auto ok = kinds::check_vmflags({"rd", "wr", "mr", "mw", "me", "ac", "dd"}, false, "area");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(*ok, "dd me mr mw rd wr") << "sorted, informational 'ac' left out";
  auto unknown = kinds::check_vmflags({"rd", "zz"}, false, "task 1: mapping X");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("'zz'"), std::string::npos);
  EXPECT_FALSE(kinds::check_vmflags({"rd", "mg"}, false, "a")) << "KSM-mergeable is refused";
  EXPECT_FALSE(kinds::check_vmflags({"rd", "pf", "io"}, false, "a"));
  EXPECT_TRUE(kinds::check_vmflags({"rd", "mr", "pf", "io", "de", "dd"}, true, "[vvar]"));
  EXPECT_EQ(kinds::verified_vmflags({"zz", "rd"}), "rd zz") << "restore keeps unknown mnemonics, so they differ";
}

TEST(Completeness, FdinfoAndMountinfo) {
  EXPECT_TRUE(kinds::check_fdinfo_keys({{"pos", "0"}, {"flags", "02"}, {"mnt_id", "1"}, {"ino", "3"}}, "fd 1"));
  auto r = kinds::check_fdinfo_keys({{"pos", "0"}, {"owner", "7"}}, "task 1: fd 4");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("owner"), std::string::npos);
  EXPECT_TRUE(kinds::check_mount_optional({"shared:3", "master:1", "unbindable"}, "mount 1"));
  EXPECT_FALSE(kinds::check_mount_optional({"future:4"}, "mount 1"));
}

TEST(Completeness, NsEntriesOfThisProcessAreKnown) {
  auto names = sys::list_ns_entries(::getpid());
  ASSERT_TRUE(names) << names.error().message;
  EXPECT_GE(names->size(), 8u);
  for (const std::string& n : *names) EXPECT_NE(kinds::find_rule(ProcSource::Ns, n), nullptr) << n;
  EXPECT_EQ(kinds::find_rule(ProcSource::Ns, "brand_new"), nullptr);
}

TEST(Completeness, StatParsesACommWithSpacesAndParens) {
  auto f = kinds::parse_stat_fields("12 (a) b (c)) S 1 12 12 0 -1 4194560");
  ASSERT_TRUE(f);
  EXPECT_EQ((*f)[1].second, "a) b (c)");
  EXPECT_EQ((*f)[2].first, "3");
  EXPECT_EQ((*f)[2].second, "S");
  EXPECT_FALSE(kinds::parse_stat_fields("no comm"));
}
