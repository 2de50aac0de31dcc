// The report pipe: how a child amber created (the shim, the init before its
// exec, exec's helper) tells its creator what happened. It is a CLOEXEC pipe:
// a successful execve closes the child's write end, so end-of-file with no
// error message means "the command is running". Each message is one write of
// less than PIPE_BUF bytes, so messages from several writers never interleave.
#pragma once
#include <sys/types.h>

#include "base/result.h"
#include "base/unique_fd.h"

namespace amber::container {

struct ReportPipe {
  UniqueFd read, write;
};
Result<ReportPipe> make_report_pipe();

// Writers (in children; best effort, they cannot do anything about a failure).
void report_pid(int fd, pid_t pid);
void report_error(int fd, const Error& e);

// What the reader got: a pid, an error, or the end of the pipe.
struct Report {
  enum class Kind { Pid, Error, End } kind = Kind::End;
  pid_t pid = 0;
  Error error;
};
Result<Report> read_report(int fd);

}  // namespace amber::container
