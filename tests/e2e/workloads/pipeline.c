// Workload: a pipeline of 4 processes (producer | relay | relay | consumer),
// children of the init, joined by 3 pipes the init made. The producer writes
// N numbered 8-byte records as fast as the pipes take them; the relays pass
// them on with a short sleep per record, so the pipes stay full of unread
// data; the consumer checks they arrive in order, none lost or repeated.
// Prints "pipeline: READY" once data flows; the init waits for the four and
// prints "pipeline: OK <records>" (exit 0) or "pipeline: FAIL <what>".
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RECORDS 40000

static int read_full(int fd, void* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char*)buf + got, n - got);
    if (r == 0) return 0;
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    got += (size_t)r;
  }
  return 1;
}

static int write_full(int fd, const void* buf, size_t n) {
  size_t put = 0;
  while (put < n) {
    ssize_t r = write(fd, (const char*)buf + put, n - put);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    put += (size_t)r;
  }
  return 0;
}

static uint64_t record(uint64_t i) { return (i << 20) ^ 0x5eed; }

static void close_except(int p[3][2], int in, int out) {
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 2; j++)
      if (p[i][j] != in && p[i][j] != out) close(p[i][j]);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int p[3][2];
  for (int i = 0; i < 3; i++)
    if (pipe(p[i])) return 2;
  pid_t kids[4];
  for (int k = 0; k < 4; k++) {
    int in = k == 0 ? -1 : p[k - 1][0], out = k == 3 ? -1 : p[k][1];
    kids[k] = fork();
    if (kids[k] < 0) return 2;
    if (kids[k] > 0) continue;
    close_except(p, in, out);
    struct timespec pause_ts = {0, 50000};
    if (k == 0) {
      for (uint64_t i = 0; i < RECORDS; i++) {
        uint64_t r = record(i);
        if (write_full(out, &r, sizeof r)) _exit(10);
      }
      _exit(0);
    }
    if (k < 3) {
      uint64_t r;
      int got;
      while ((got = read_full(in, &r, sizeof r)) == 1) {
        nanosleep(&pause_ts, NULL);
        if (write_full(out, &r, sizeof r)) _exit(11);
      }
      _exit(got == 0 ? 0 : 12);
    }
    uint64_t r, i = 0;
    int got;
    while ((got = read_full(in, &r, sizeof r)) == 1) {
      if (r != record(i)) {
        printf("pipeline: FAIL record %llu is %#llx (record %llu?)\n", (unsigned long long)i,
               (unsigned long long)r, (unsigned long long)(r >> 20));
        _exit(13);
      }
      i++;
      if (i == 1000) printf("pipeline: READY\n");
    }
    if (got < 0 || i != RECORDS) {
      printf("pipeline: FAIL %llu records of %d\n", (unsigned long long)i, RECORDS);
      _exit(14);
    }
    _exit(0);
  }
  close_except(p, -1, -1);
  int bad = 0;
  for (int k = 0; k < 4; k++) {
    int st;
    if (waitpid(kids[k], &st, 0) != kids[k] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      printf("pipeline: FAIL stage %d ended with status %#x\n", k, st);
      bad = 1;
    }
  }
  if (bad) return 1;
  printf("pipeline: OK %d\n", RECORDS);
  return 0;
}
