// Workload: credentials and seccomp filters. argv[1] is the mode:
//  caps          drops to uids 1000/1001/1002 (real/effective/saved, fs 1003),
//                gids 2000/2001/2002 (fs 2003), groups 27,1000,3000,
//                keeps CAP_NET_BIND_SERVICE effective, CAP_NET_RAW
//                permitted, both inheritable, CAP_NET_BIND_SERVICE ambient,
//                drops CAP_SYS_BOOT, CAP_SYS_MODULE, CAP_MKNOD from the
//                bounding set, securebits KEEP_CAPS|NOROOT|NOROOT_LOCKED,
//                no_new_privs, dumpable 1, personality ADDR_NO_RANDOMIZE.
//  seccomp-root  stays root (no no_new_privs: CAP_SYS_ADMIN lets it) and
//                installs two filters: uname() → ENETDOWN, then (flag LOG)
//                sysinfo() → EXDEV.
//  seccomp-user  the same filters as root, then drops to uid/gid 1000 with
//                no capabilities left (and no no_new_privs).
// A second thread is started afterwards (it inherits all of that). Prints
// "creds: READY" and waits; on SIGUSR1 checks in both threads that
// everything is as it was set (getresuid, getresgid, getgroups, capget,
// PR_CAPBSET_READ, PR_CAP_AMBIENT_IS_SET, securebits, no_new_privs,
// dumpable, personality; the filters still answer) and prints
// "creds: OK" (exit 0) or "creds: FAIL <what>" (exit 1).
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

static const char* mode;
static volatile sig_atomic_t usr1;
static void on_usr1(int sig) { (void)sig; usr1 = 1; }

static void fail(const char* what) {
  printf("creds: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  exit(1);
}

static int capset3(uint64_t eff, uint64_t prm, uint64_t inh) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {{(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
                                        {(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)}};
  return (int)syscall(SYS_capset, &h, d);
}
static void capget3(uint64_t* eff, uint64_t* prm, uint64_t* inh) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d)) fail("capget");
  *eff = d[0].effective | (uint64_t)d[1].effective << 32;
  *prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
  *inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
}

#define BIT(c) (UINT64_C(1) << (c))

static void install_filter(int nr, int err, unsigned flags) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog p = {sizeof f / sizeof f[0], f};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &p)) fail("seccomp");
}

static void setup(void) {
  if (strcmp(mode, "caps") == 0) {
    gid_t groups[] = {3000, 27, 1000};
    if (setgroups(3, groups)) fail("setgroups");
    if (syscall(SYS_setresgid, 2000, 2001, 2002)) fail("setresgid");
    syscall(SYS_setfsgid, 2003);
    int drop[] = {CAP_SYS_BOOT, CAP_SYS_MODULE, CAP_MKNOD};
    for (int i = 0; i < 3; i++)
      if (prctl(PR_CAPBSET_DROP, drop[i], 0, 0, 0)) fail("PR_CAPBSET_DROP");
    if (prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_NOROOT | SECBIT_NOROOT_LOCKED, 0, 0, 0))
      fail("PR_SET_SECUREBITS");
    // Raw syscalls: this thread alone, glibc's broadcast is not needed yet.
    if (syscall(SYS_setresuid, 1000, 1001, 1002)) fail("setresuid");
    uint64_t keep = BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_NET_RAW);
    if (capset3(BIT(CAP_SETUID) | keep, BIT(CAP_SETUID) | keep, keep)) fail("capset 1");
    syscall(SYS_setfsuid, 1003);
    if (capset3(BIT(CAP_NET_BIND_SERVICE), keep, keep)) fail("capset 2");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0)) fail("ambient raise");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) fail("no_new_privs");
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)) fail("dumpable");
    if (personality(PER_LINUX | ADDR_NO_RANDOMIZE) < 0) fail("personality");
    return;
  }
  install_filter(SYS_uname, ENETDOWN, 0);
  install_filter(SYS_sysinfo, EXDEV, SECCOMP_FILTER_FLAG_LOG);
  if (strcmp(mode, "seccomp-user") == 0) {
    gid_t g = 1000;
    if (setgroups(1, &g)) fail("setgroups");
    if (syscall(SYS_setresgid, 1000, 1000, 1000)) fail("setresgid");
    if (syscall(SYS_setresuid, 1000, 1000, 1000)) fail("setresuid");
  }
}

static const char* check(void) {
  static char why[160];
  uid_t r, e, s;
  gid_t gr, ge, gs;
  getresuid(&r, &e, &s);
  getresgid(&gr, &ge, &gs);
  uint64_t eff, prm, inh;
  capget3(&eff, &prm, &inh);
  gid_t groups[16];
  int n = getgroups(16, groups);
  if (strcmp(mode, "caps") == 0) {
    if (r != 1000 || e != 1001 || s != 1002) return "uids";
    if ((int)syscall(SYS_setfsuid, -1) != 1003) return "fsuid";
    if (gr != 2000 || ge != 2001 || gs != 2002) return "gids";
    if ((int)syscall(SYS_setfsgid, -1) != 2003) return "fsgid";
    if (n != 3 || groups[0] != 27 || groups[1] != 1000 || groups[2] != 3000) return "groups";
    uint64_t keep = BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_NET_RAW);
    if (eff != BIT(CAP_NET_BIND_SERVICE) || prm != keep || inh != keep) {
      snprintf(why, sizeof why, "caps eff %llx prm %llx inh %llx", (unsigned long long)eff,
               (unsigned long long)prm, (unsigned long long)inh);
      return why;
    }
    if (prctl(PR_CAPBSET_READ, CAP_SYS_BOOT) != 0 || prctl(PR_CAPBSET_READ, CAP_MKNOD) != 0 ||
        prctl(PR_CAPBSET_READ, CAP_CHOWN) != 1)
      return "bounding set";
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0) != 1 ||
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0) != 0)
      return "ambient";
    if (prctl(PR_GET_SECUREBITS) != (SECBIT_KEEP_CAPS | SECBIT_NOROOT | SECBIT_NOROOT_LOCKED)) return "securebits";
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return "no_new_privs";
    if (prctl(PR_GET_DUMPABLE) != 1) return "dumpable";
    if (personality(0xffffffff) != (PER_LINUX | ADDR_NO_RANDOMIZE)) return "personality";
    return NULL;
  }
  struct utsname u;
  errno = 0;
  if (uname(&u) != -1 || errno != ENETDOWN) return "uname is not filtered";
  struct sysinfo si;
  errno = 0;
  if (sysinfo(&si) != -1 || errno != EXDEV) return "sysinfo is not filtered";
  if (getpid() <= 0) return "getpid";
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0) return "no_new_privs";
  if (strcmp(mode, "seccomp-user") == 0) {
    if (r != 1000 || e != 1000 || s != 1000 || gr != 1000 || ge != 1000 || gs != 1000) return "ids";
    if (eff || prm || inh) return "capabilities left";
    if (prctl(PR_GET_DUMPABLE) != 0) return "dumpable";
  } else {
    if (r || e || s || gr) return "ids";
    if (!(eff & BIT(CAP_SYS_ADMIN))) return "CAP_SYS_ADMIN";
  }
  return NULL;
}

static const char* thread_verdict;
static volatile int thread_go;
static void* thread_main(void* arg) {
  (void)arg;
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &s, NULL);
  while (!thread_go) usleep(1000);
  const char* w = check();
  thread_verdict = w ? w : "ok";
  return NULL;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) fail("usage: creds caps|seccomp-root|seccomp-user");
  mode = argv[1];
  struct sigaction sa = {0};
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  setup();
  const char* w = check();
  if (w) fail(w);
  pthread_t th;
  if (pthread_create(&th, NULL, thread_main, NULL)) fail("pthread_create");
  printf("creds: READY\n");
  while (!usr1) pause();
  if ((w = check())) fail(w);
  thread_go = 1;
  pthread_join(th, NULL);
  if (strcmp(thread_verdict, "ok") != 0) fail(thread_verdict);
  printf("creds: OK mode=%s\n", mode);
  return 0;
}
