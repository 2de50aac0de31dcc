// The batch executor: a position-independent stub copied into the task,
// running a table of syscalls per ptrace stop (see remote_task.h).
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "remote/remote_task.h"

// The stub. Entry points:
//   begin:  `syscall`, result kept in r13, then park — one syscall with the
//           registers set by ptrace.
//   batch:  rbx = first Slot, r12 = number of slots. For each slot: load
//           nr and 6 args, syscall, store rax in result; stop after a
//           failure (-4095..-1) if bit 0 of flags is set. Then park; r12
//           holds the number of slots not run.
//   park:   tgkill(getpid(), gettid(), SIGSTOP), then again, for ever.
//           Traced, the SIGSTOP is a signal-delivery-stop at `parked` that
//           amber discards. Not traced any more (amber was SIGKILLed while
//           the stub ran), the kernel delivers it: the process enters a
//           job-control stop and stays there, harmless, until the next
//           amber command puts its registers back from the journal
//           (src/recover) and continues it. An `int3` here instead would be
//           a forced SIGTRAP: fatal once the tracer is gone.
// Only registers are used (no stack, no data outside the table), so it
// runs at any address and with any rsp the task had. The park clobbers rax,
// rcx, rdx, rsi, rdi and r11 (rbx, r12 and r13 are read at the stop).
asm(R"(
  .pushsection .rodata.amber_remote_stub, "a"
  .balign 16
  .globl amber_remote_stub_begin, amber_remote_stub_batch, amber_remote_stub_parked, amber_remote_stub_end
  .hidden amber_remote_stub_begin, amber_remote_stub_batch, amber_remote_stub_parked, amber_remote_stub_end
amber_remote_stub_begin:
  syscall
  mov %rax, %r13
  jmp 3f
  .balign 16, 0xcc
amber_remote_stub_batch:
1:
  test %r12, %r12
  jz 3f
  mov 0(%rbx), %rax
  mov 8(%rbx), %rdi
  mov 16(%rbx), %rsi
  mov 24(%rbx), %rdx
  mov 32(%rbx), %r10
  mov 40(%rbx), %r8
  mov 48(%rbx), %r9
  syscall
  mov %rax, 64(%rbx)
  add $72, %rbx
  dec %r12
  cmp $-4095, %rax
  jb 1b
  testb $1, -16(%rbx)
  jz 1b
3:
  mov $39, %eax
  syscall
  mov %rax, %rdi
  mov $186, %eax
  syscall
  mov %rax, %rsi
  mov $19, %edx
  mov $234, %eax
  syscall
amber_remote_stub_parked:
  jmp 3b
amber_remote_stub_end:
  .popsection
)");

extern "C" const char amber_remote_stub_begin[], amber_remote_stub_batch[], amber_remote_stub_parked[],
    amber_remote_stub_end[];

namespace amber::remote {

namespace {

// One table entry as the stub reads it.
struct Slot {
  uint64_t nr;
  uint64_t args[6];
  uint64_t flags;  // bit 0: stop on error
  int64_t result;
};
static_assert(sizeof(Slot) == 72 && offsetof(Slot, flags) == 56 && offsetof(Slot, result) == 64,
              "the stub's offsets");

constexpr uint64_t kStopOnError = 1;

size_t page_size() { return static_cast<size_t>(::sysconf(_SC_PAGESIZE)); }
size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

std::span<const std::byte> RemoteTask::stub_code() {
  return {reinterpret_cast<const std::byte*>(amber_remote_stub_begin),
          static_cast<size_t>(amber_remote_stub_end - amber_remote_stub_begin)};
}

size_t RemoteTask::executor_size_for(size_t table_calls, size_t scratch_bytes) {
  const size_t page = page_size();
  return page + round_up(table_calls * sizeof(Slot), page) + round_up(scratch_bytes, page);
}

uint64_t RemoteTask::executor_parked() const {
  return exec_base_ + static_cast<uint64_t>(amber_remote_stub_parked - amber_remote_stub_begin);
}

Status RemoteTask::map_executor(uint64_t addr, size_t table_calls, size_t scratch_bytes) {
  if (has_executor()) return failf("task {}: executor already mapped at {:#x}", tid_, exec_base_);
  if (table_calls == 0) return failf("task {}: executor needs room for at least one call", tid_);
  const size_t page = page_size();
  const size_t code_size = page;
  const size_t table_size = round_up(table_calls * sizeof(Slot), page);
  const size_t scratch_size = round_up(scratch_bytes, page);
  const size_t total = code_size + table_size + scratch_size;

  // One mapping, made read-write, filled with process_vm_writev, then its
  // code page made r-x: three syscalls through [vdso]. Shared anonymous: it
  // never merges with a neighbour of the task, so a recovery finds it in
  // maps (a "/dev/zero (deleted)" area of exactly this size) even when
  // amber was killed before it learnt the address. The journal hears of it
  // before the mmap (address 0: pending) and once it has an address.
  if (map_observer_) TRY(map_observer_(tgid_, 0, total, true, true));
  int flags = MAP_SHARED | MAP_ANONYMOUS | (addr ? MAP_FIXED_NOREPLACE : 0);
  auto mapped = syscall_checked(fmt::format("mmap executor ({} bytes at {:#x})", total, addr), SYS_mmap, addr, total,
                                PROT_READ | PROT_WRITE, static_cast<uint64_t>(flags), static_cast<uint64_t>(-1), 0);
  if (!mapped) {
    if (map_observer_) (void)map_observer_(tgid_, 0, total, true, false);
    return std::unexpected(std::move(mapped.error()));
  }
  const uint64_t base = *mapped;
  if (map_observer_) TRY(map_observer_(tgid_, base, total, true, true));
  auto undo = [&] {
    if (raw_syscall(true, SYS_munmap, {base, total, 0, 0, 0, 0}) && map_observer_)
      (void)map_observer_(tgid_, base, total, true, false);
  };
  if (addr && base != addr) {
    undo();
    return failf("task {}: executor mapped at {:#x}, not at {:#x}", tid_, base, addr);
  }
  std::vector<std::byte> code(code_size, std::byte{0xcc});
  std::ranges::copy(stub_code(), code.begin());
  if (auto w = write(base, code); !w) {
    undo();
    return context(std::move(w), fmt::format("task {}: write executor code", tid_));
  }
  if (auto p = syscall_checked("mprotect executor code r-x", SYS_mprotect, base, code_size, PROT_READ | PROT_EXEC);
      !p) {
    undo();
    return std::unexpected(std::move(p.error()));
  }
  exec_base_ = base;
  exec_size_ = total;
  table_addr_ = base + code_size;
  table_calls_ = table_size / sizeof(Slot);
  scratch_addr_ = table_addr_ + table_size;
  scratch_size_ = scratch_size;
  return {};
}

Status RemoteTask::share_executor(const RemoteTask& owner) {
  if (has_executor()) return failf("task {}: executor already mapped at {:#x}", tid_, exec_base_);
  if (!owner.has_executor()) return failf("task {}: thread {} has no executor to share", tid_, owner.tid_);
  if (owner.tgid_ != tgid_) return failf("task {}: thread {} is in another process", tid_, owner.tid_);
  exec_base_ = owner.exec_base_;
  exec_size_ = owner.exec_size_;
  table_addr_ = owner.table_addr_;
  table_calls_ = owner.table_calls_;
  scratch_addr_ = owner.scratch_addr_;
  scratch_size_ = owner.scratch_size_;
  exec_shared_ = true;
  return {};
}

void RemoteTask::drop_shared_executor() {
  if (!exec_shared_) return;
  exec_base_ = exec_size_ = 0;
  table_addr_ = scratch_addr_ = 0;
  table_calls_ = scratch_size_ = 0;
  exec_shared_ = false;
}

Status RemoteTask::unmap_executor() {
  if (!has_executor()) return {};
  if (exec_shared_) return failf("task {}: the executor is shared from another thread: its owner unmaps it", tid_);
  // Not through the executor itself: the munmap would return into an
  // unmapped page.
  long r = TRY_CTX(raw_syscall(true, SYS_munmap, {exec_base_, exec_size_, 0, 0, 0, 0}), "task {}: unmap executor",
                   tid_);
  TRY(check_syscall(r, fmt::format("task {}: munmap executor {:#x}+{:#x}", tid_, exec_base_, exec_size_)));
  if (map_observer_) TRY(map_observer_(tgid_, exec_base_, exec_size_, true, false));
  exec_base_ = exec_size_ = 0;
  table_addr_ = scratch_addr_ = 0;
  table_calls_ = scratch_size_ = 0;
  return {};
}

Status RemoteTask::run_batch(std::span<Call> calls) {
  for (Call& c : calls) {
    c.ran = false;
    c.result = 0;
  }
  if (calls.empty()) return {};
  if (!has_executor()) return failf("task {}: run_batch needs map_executor() first", tid_);
  TRY(prepare_run());
  for (size_t first = 0; first < calls.size(); first += table_calls_) {
    size_t n = std::min(table_calls_, calls.size() - first);
    TRY(run_chunk(calls.subspan(first, n), first));
  }
  return {};
}

Status RemoteTask::run_chunk(std::span<Call> calls, size_t first_index) {
  std::vector<Slot> slots(calls.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    const Call& c = calls[i];
    slots[i].nr = static_cast<uint64_t>(c.nr);
    std::copy(c.args.begin(), c.args.end(), slots[i].args);
    slots[i].flags = c.stop_on_error ? kStopOnError : 0;
    slots[i].result = 0;
  }
  TRY_CTX(write(table_addr_, std::as_bytes(std::span(slots))), "task {}: write call table", tid_);

  user_regs_struct r = saved_regs_;
  r.rip = exec_base_ + static_cast<uint64_t>(amber_remote_stub_batch - amber_remote_stub_begin);
  r.rbx = table_addr_;
  r.r12 = calls.size();
  r.orig_rax = ~0ull;
  r.eflags &= ~0x100ull;
  user_regs_struct out = TRY_CTX(run_remote(r, executor_parked(), Until::Park), "task {}: run batch", tid_);
  if (out.r12 > calls.size()) return failf("task {}: batch stub returned {} calls left of {}", tid_, out.r12, calls.size());
  const size_t done = calls.size() - out.r12;
  TRY_CTX(read(table_addr_, std::as_writable_bytes(std::span(slots).first(done))), "task {}: read results", tid_);
  for (size_t i = 0; i < done; ++i) {
    calls[i].result = slots[i].result;
    calls[i].ran = true;
  }
  if (done > 0 && calls[done - 1].stop_on_error && calls[done - 1].failed()) {
    const Call& c = calls[done - 1];
    return sys_fail_errno(static_cast<int>(-c.result), "task {}: batch call #{} (syscall {})", tid_,
                          first_index + done - 1, c.nr);
  }
  return {};
}

}  // namespace amber::remote
