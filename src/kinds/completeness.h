// The completeness rule (DESIGN.md "Never restore wrongly"): every field the
// dump sees in /proc — a task's status, stat and sched lines, each area's
// smaps VmFlags, each fd's fdinfo keys, the entries of /proc/PID/ns, the
// optional fields of mountinfo — is classified in one table:
//
//   Restored   amber restores it; its value is recorded in the image and
//              compared with the restored task before it runs (restore/verify).
//   Inherited  amber does not set it: the restored task inherits it from the
//              amber process that restores it. The dump refuses a value other
//              than amber's own, records it, and restore verifies it.
//   Info       a counter or a consequence (VmRSS, context switches, host
//              pids): never compared.
//   Refused    amber cannot restore it: any value but `dflt` (or, without a
//              default, the field's mere presence) refuses the dump by name.
//
// A key, mnemonic or namespace kind the table does not list refuses the dump
// too: a newer kernel or a program doing something new gets a refusal
// (exit 4), never a wrong image. The namespace kinds are checked, with
// every thread's namespaces, by kinds/ns/membership.
#pragma once
#include <sys/types.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "task.pb.h"

namespace amber::kinds {

enum class FieldClass : uint8_t { Restored, Inherited, Info, Refused };

struct FieldRule {
  std::string_view key;
  FieldClass cls;
  std::string_view what;       // for messages: what the field means
  std::string_view dflt = {};  // Refused: the one accepted value ("" = none)
  bool prefix = false;         // the rule covers every key starting with `key`
};

// The tables (completeness.cpp); exposed for tests and docs.
enum class ProcSource : uint8_t { Status, Stat, Sched, VmFlags, Fdinfo, Ns, MountOptional };
const std::vector<FieldRule>& rules(ProcSource src);
std::string_view source_name(ProcSource src);

// Finds the rule for `key` (exact first, then the longest prefix rule), or null.
const FieldRule* find_rule(ProcSource src, std::string_view key);

// "Key:\tvalue" lines of /proc/PID/status, in order, values trimmed.
using KeyValues = std::vector<std::pair<std::string, std::string>>;
KeyValues parse_status_fields(std::string_view text);
// "key : value" lines of /proc/PID/sched (the header, dashes and the
// "current_node=.." / "numa_faults .." lines become keys of their own).
KeyValues parse_sched_fields(std::string_view text);
// /proc/PID/stat as numbered fields "1".."52" (comm may hold spaces and ')').
Result<KeyValues> parse_stat_fields(std::string_view text);

// What amber itself has (the value an Inherited field must have), read once
// per dump or restore from its own /proc/self.
struct Reference {
  std::map<std::string, std::string> status, stat, sched;
};
Result<Reference> read_reference();

// Checks one task's (or thread's) fields against the table: Unsupported
// naming `who` ("task 3", "task 3 thread 5") and the field for an unknown
// key, a Refused value or an Inherited value unlike amber's. Returns the
// Restored and Inherited fields, normalized (NSpid etc.: the innermost id,
// which restore recreates), for the image and for restore to verify.
Result<std::map<std::string, std::string>> check_fields(ProcSource src, const KeyValues& fields,
                                                        const Reference& ref, std::string_view who);

// VmFlags of one area (its mnemonics): Unsupported for an unknown or
// refused one. `special`: [vdso], [vvar], [vvar_vclock], [vsyscall] (their
// pf/io/de come with the kernel's special mapping, restored by kinds/vdso).
// Returns the Restored mnemonics, sorted and space-separated, to verify.
Result<std::string> check_vmflags(const std::vector<std::string>& mnemonics, bool special, std::string_view who);
// The Restored mnemonics of a VmFlags line as check_vmflags returns them
// (restore's side of the comparison; unknown mnemonics are kept, so that
// they show as a difference).
std::string verified_vmflags(const std::vector<std::string>& mnemonics);

// The keys of one fd's fdinfo (kinds amber restores: regular files,
// directories, pipes, FIFOs, memory devices, memfds).
Status check_fdinfo_keys(const std::vector<std::pair<std::string, std::string>>& fields, std::string_view who);

// The optional fields of a mountinfo line ("shared:N", ...): unknown tags refuse.
Status check_mount_optional(const std::vector<std::string>& optional_fields, std::string_view who);

// Dump: checks one process's stat and each thread's status and sched
// against the table and records what restore verifies. `tids`: host tids
// in the order of task.threads.
Status record_proc_fields(pid_t pid, const std::vector<pid_t>& tids, const Reference& ref, img::Task& task);
// Restore: the same fields of the rebuilt process, compared with the image
// (Failed naming the task, thread and field).
Status verify_proc_fields(pid_t pid, const std::vector<pid_t>& tids, const img::Task& task);

}  // namespace amber::kinds
