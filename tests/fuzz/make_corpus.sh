#!/usr/bin/env bash
# Makes the fuzzer's corpus (tests/fuzz/corpus/*.amfz) from real dumps: small
# containers running programs every Debian host has (so that the checks of
# what a restore would open on the host pass on another machine too), each
# dumped by amber and packed with its page data zeroed (amber_fuzz --pack).
#
#   tests/fuzz/make_corpus.sh [--build DIR] [--fuzz BINARY] [--out DIR]
#
# DIR: the build with `amber` (default build); BINARY: an amber_fuzz
# (default DIR/tests/amber_fuzz); OUT: where the .amfz files go (default
# tests/fuzz/corpus). Needs root and cgroup v2, like the e2e tests (it uses
# their helpers: a private state dir and cgroup root, everything it started
# removed on exit).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD="$here/../../build" FUZZ="" OUT="$here/corpus"
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift ;;
    --fuzz) FUZZ=$2; shift ;;
    --out) OUT=$2; shift ;;
    *) echo "make_corpus.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
export AMBER=${AMBER:-$BUILD/amber} WORKLOADS=$BUILD/workloads E2E_LIB="$here/../e2e/lib.sh"
FUZZ=${FUZZ:-$BUILD/tests/amber_fuzz}
[ -x "$FUZZ" ] || { echo "make_corpus.sh: $FUZZ is not built" >&2; exit 1; }
. "$E2E_LIB"
mkdir -p "$OUT"

# corpus NAME CMD...: runs CMD in a container until its log says READY (or
# 0.5 s for programs that print nothing), dumps it and packs the image.
corpus() {
  local name=$1 n
  shift
  n=$(e2e_name "$name")
  "$AMBER" run --name "$n" -- "$@" >/dev/null
  wait_until 20 grep -q READY "$AMBER_STATE_DIR/$n/log"
  sleep 0.3  # the last children settle into their sleep
  "$AMBER" dump "$n" -D "$E2E_TMP/$name"
  "$FUZZ" --pack "$E2E_TMP/$name" "$OUT/$name.amfz"
  echo "$name: $(find "$E2E_TMP/$name" -type f | wc -l) files, packed $(stat -c %s "$OUT/$name.amfz") bytes"
}

# A shell with children asleep in nanosleep and the shell in wait4.
corpus shell sh -c 'sleep 1000 & sleep 1001 & echo READY; wait'
# A pipeline: three processes joined by two pipes, one holding queued data.
corpus pipeline sh -c 'echo READY; { echo queued; sleep 1000; } | cat | sleep 1002'
# Threads: python with four sleeping threads (futex and nanosleep).
corpus threads python3 -c '
import threading, time
for i in range(4):
    threading.Thread(target=time.sleep, args=(1000,), name=f"worker{i}").start()
print("READY", flush=True)
time.sleep(1000)'
# Shared anonymous memory between two processes (shmem.img), a pipe between them.
corpus shmem python3 -c '
import mmap, os, time
m = mmap.mmap(-1, 8192, flags=mmap.MAP_SHARED)
m[:5] = b"hello"
r, w = os.pipe()
if os.fork() == 0:
    time.sleep(1000)
print("READY", flush=True)
time.sleep(1000)'
# The container's own tmpfs /tmp with content: directories, a file, a
# symlink, a hard link, a FIFO, odd names.
corpus tmpfs sh -c 'mkdir -p /tmp/d/e && echo content >/tmp/d/f && ln -s f /tmp/d/l && ln /tmp/d/f /tmp/d/h &&
  mkfifo /tmp/d/p && printf x >"/tmp/d/$(printf "\\001odd name")" && echo READY && exec sleep 1000'
# Unlinked files still open (one shared by two processes), a FIFO with data,
# a directory fd, and a zombie (its parent never waits).
corpus unlinked sh -c 'mkfifo /tmp/fifo && exec 3>/tmp/gone 4</etc 5<>/tmp/fifo && echo data >&3 && echo queued >&5 && rm /tmp/gone && sleep 1000 & sh -c "sleep 0.1 & exec sleep 1003" & echo READY; wait'
ls -l "$OUT"
du -sh "$OUT"
