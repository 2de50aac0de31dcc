#include "kinds/ns/uts.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "base/files.h"
#include "base/unique_fd.h"

namespace amber::kinds {

Result<img::Uts> dump_uts(pid_t pid) {
  UniqueFd ns = TRY(open_fd(fmt::format("/proc/{}/ns/uts", pid), O_RDONLY));
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return sys_fail("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t child = ::fork();
  if (child < 0) return sys_fail("fork");
  if (child == 0) {
    struct utsname u {};
    if (::setns(ns.get(), CLONE_NEWUTS) != 0 || ::uname(&u) != 0) _exit(1);
    ssize_t n = ::write(wr.get(), &u, sizeof u);
    _exit(n == static_cast<ssize_t>(sizeof u) ? 0 : 1);
  }
  wr.reset();
  struct utsname u {};
  auto got = read_exact(rd.get(), &u, sizeof u);
  int st = 0;
  while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {}
  if (!got || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return failf("pid {}: cannot read the uts namespace", pid);
  img::Uts out;
  out.set_hostname(u.nodename, strnlen(u.nodename, sizeof u.nodename));
  out.set_domainname(u.domainname, strnlen(u.domainname, sizeof u.domainname));
  return out;
}

Status restore_uts(const img::Uts& uts) {
  if (::sethostname(uts.hostname().data(), uts.hostname().size()) != 0)
    return sys_fail("sethostname '{}'", uts.hostname());
  if (::setdomainname(uts.domainname().data(), uts.domainname().size()) != 0)
    return sys_fail("setdomainname '{}'", uts.domainname());
  return {};
}

}  // namespace amber::kinds
