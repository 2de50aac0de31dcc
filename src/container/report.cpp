#include "container/report.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace amber::container {

namespace {
// Fixed-size wire form; 1 KiB < PIPE_BUF keeps each write atomic.
struct Wire {
  int32_t kind;  // 1 pid, 2 error
  int32_t exit;
  int32_t sys_errno;
  int32_t pid;
  char text[1008];
};
static_assert(sizeof(Wire) == 1024);

void send(int fd, const Wire& w) {
  ssize_t n;
  do n = ::write(fd, &w, sizeof w);
  while (n < 0 && errno == EINTR);
}
}  // namespace

Result<ReportPipe> make_report_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return sys_fail("pipe");
  return ReportPipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void report_pid(int fd, pid_t pid) {
  Wire w{};
  w.kind = 1;
  w.pid = pid;
  send(fd, w);
}

void report_error(int fd, const Error& e) {
  Wire w{};
  w.kind = 2;
  w.exit = static_cast<int32_t>(e.exit);
  w.sys_errno = e.sys_errno;
  size_t n = std::min(e.message.size(), sizeof w.text - 1);
  std::memcpy(w.text, e.message.data(), n);
  send(fd, w);
}

Result<Report> read_report(int fd) {
  Wire w{};
  size_t got = 0;
  while (got < sizeof w) {
    ssize_t n = ::read(fd, reinterpret_cast<char*>(&w) + got, sizeof w - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_fail("read report pipe");
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  Report r;
  if (got == 0) return r;  // End
  if (got != sizeof w) return failf("report pipe: truncated message ({} bytes)", got);
  w.text[sizeof w.text - 1] = 0;
  if (w.kind == 1) {
    r.kind = Report::Kind::Pid;
    r.pid = w.pid;
    return r;
  }
  if (w.kind == 2) {
    r.kind = Report::Kind::Error;
    int ex = w.exit;
    r.error.exit = (ex >= 1 && ex <= 4) ? static_cast<Exit>(ex) : Exit::Failed;
    r.error.sys_errno = w.sys_errno;
    r.error.message = w.text;
    return r;
  }
  return failf("report pipe: unknown message kind {}", w.kind);
}

}  // namespace amber::container
