// A forked child for live /proc and pidfd tests: runs `setup`, reports ready
// over a pipe, then runs `then` (default: sleeps until killed). The parent side
// kills and reaps it on destruction, so a failing test leaves no process behind.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <functional>

namespace amber::test {

class Child {
 public:
  explicit Child(const std::function<int()>& setup, const std::function<int()>& then = nullptr)
      : Child([&setup](int&) { return setup ? setup() : 0; }, then) {}
  explicit Child(std::nullptr_t, const std::function<int()>& then = nullptr)
      : Child(std::function<int(int&)>{}, then) {}
  // setup(ready_fd) runs first in the child; it may renumber ready_fd (the
  // fd restore tests close everything else). A non-zero return is the
  // child's exit status (and the parent sees !ok()).
  explicit Child(const std::function<int(int& ready_fd)>& setup, const std::function<int()>& then = nullptr) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(p[0]);
      int ready = p[1];
      int rc = setup ? setup(ready) : 0;
      if (rc != 0) ::_exit(rc);
      char c = 'r';
      if (::write(ready, &c, 1) != 1) ::_exit(120);
      ::close(ready);
      if (then) ::_exit(then());
      for (;;) ::pause();
    }
    ::close(p[1]);
    char c = 0;
    ssize_t n;
    do n = ::read(p[0], &c, 1);
    while (n < 0 && errno == EINTR);
    ::close(p[0]);
    ready_ = n == 1;
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }

  bool ok() const { return pid_ > 0 && ready_; }
  pid_t pid() const { return pid_; }
  // Reaps the child (also when traced: __WALL); returns the waitpid status
  // (-1 on error).
  int wait() {
    int status = -1;
    pid_t r;
    do r = ::waitpid(pid_, &status, __WALL);
    while (r < 0 && errno == EINTR);
    reaped_ = true;
    return r == pid_ ? status : -1;
  }
  // Non-blocking: true once the child has ended (status stored).
  bool try_wait(int& status) {
    pid_t r = ::waitpid(pid_, &status, __WALL | WNOHANG);
    if (r == pid_) reaped_ = true;
    return r == pid_;
  }

 private:
  pid_t pid_ = -1;
  bool ready_ = false;
  bool reaped_ = false;
};

}  // namespace amber::test
