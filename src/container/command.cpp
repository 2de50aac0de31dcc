#include "container/command.h"

#include <unistd.h>

#include <csignal>

namespace amber::container {

std::vector<std::string> command_env(const std::vector<std::string>& extra) {
  std::vector<std::string> env = {std::string("PATH=") + kDefaultPath, "HOME=/root"};
  for (const std::string& kv : extra) {
    std::string key = kv.substr(0, kv.find('=') + 1);
    std::erase_if(env, [&](const std::string& e) { return e.starts_with(key); });
    env.push_back(kv);
  }
  return env;
}

Status check_env_entry(const std::string& kv) {
  size_t eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) return bad_input("--env '{}': expected KEY=VALUE", kv);
  return {};
}

Error exec_command(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  if (argv.empty()) return Error{Exit::BadInput, 0, "no command given"};
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // execvp searches the PATH of the calling process's environment, so the
  // command's environment becomes ours first.
  environ = envp.data();
  ::execvp(args[0], args.data());
  int e = errno;
  if (e == ENOENT || e == ENOTDIR)
    return Error{Exit::BadInput, e, fmt::format("{}: command not found", argv[0])};
  return Error{Exit::Failed, e, fmt::format("exec {}: {}", argv[0], std::strerror(e))};
}

void reset_signals() {
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::signal(sig, SIG_DFL);  // fails harmlessly for the signals glibc reserves
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

std::string join_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$`;&|<>()*?") == std::string::npos;
    if (plain) {
      out += a;
    } else {
      out += '\'';
      for (char c : a) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
      out += '\'';
    }
  }
  return out;
}

}  // namespace amber::container
