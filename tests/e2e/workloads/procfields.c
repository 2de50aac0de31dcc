// Workload: one piece of state the completeness table (kinds/completeness.h)
// refuses, chosen by argv[1], then "procfields: READY" and a pause:
//   random       MADV_RANDOM on a 64 KiB area (VmFlags "rr")
//   speculation  PR_SET_SPECULATION_CTRL: store bypass disabled (status
//                Speculation_Store_Bypass differs from amber's own)
//   plain        nothing (the dump must succeed)
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "plain";
  if (strcmp(mode, "random") == 0) {
    void* p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || madvise(p, 65536, MADV_RANDOM) != 0) { perror("procfields: madvise"); return 1; }
    memset(p, 1, 65536);
  } else if (strcmp(mode, "speculation") == 0) {
    if (prctl(PR_SET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, PR_SPEC_DISABLE, 0, 0) != 0) {
      perror("procfields: PR_SET_SPECULATION_CTRL");
      printf("procfields: UNSUPPORTED\n");
      fflush(stdout);
      pause();
    }
  }
  printf("procfields: READY\n");
  fflush(stdout);
  for (;;) pause();
}
