#!/bin/bash
# A bash script with state in subshells, a running pipeline and background
# jobs. It runs until /tmp/go appears, then waits for every job and prints
# what each reported and the exit status `wait` gave for it.
set -u
go() { [ -e /tmp/go ]; }
# put NAME VALUE: a counter others can read, replaced atomically.
put() { echo "$2" >"/tmp/$1.tmp" && mv "/tmp/$1.tmp" "/tmp/$1"; }

# A subshell counting in its own variables (a counter and the running sum of
# it); it checks they still agree, and exits with a status made of its count.
(
  c=0 s=0
  while ! go; do c=$((c + 1)); s=$((s + c)); put sub $c; sleep 0.05; done
  [ $s -eq $((c * (c + 1) / 2)) ] || { echo "SUB FAIL c=$c s=$s"; exit 1; }
  echo "SUB c=$c"
  exit $((c % 200 + 20))
) &
sub=$!
# Jobs that end with known statuses once triggered: an exit, a signal.
( while ! go; do sleep 0.1; done; exit 3 ) &
j3=$!
( while ! go; do sleep 0.1; done; kill -TERM $BASHPID ) &
jt=$!

# A pipeline of four processes, running through the dump: 1..N, doubled by a
# bash loop, tagged by sed, summed by a bash reader. Until /tmp/go the producer
# stops after 30 numbers and the reader after 20, so 10 lines sit unread in
# the pipes.
N=100
{
  i=0
  while [ $i -lt $N ]; do
    i=$((i + 1)); echo $i
    if [ $i -le 30 ]; then put prod $i; fi
    if [ $i -ge 30 ]; then while ! go; do sleep 0.1; done; fi
  done
} | while read -r x; do echo $((x * 2)); done \
  | sed -u 's/^/v=/' \
  | {
    n=0 s=0
    while read -r x; do
      n=$((n + 1)); s=$((s + ${x#v=}))
      if [ $n -le 20 ]; then put pipe $n; fi
      if [ $n -eq 20 ]; then while ! go; do sleep 0.1; done; fi
    done
    echo "PIPE n=$n s=$s"
    exit 7
  } &
pl=$!

# The script itself counts too.
m=0
while ! go; do m=$((m + 1)); put main $m; sleep 0.05; done
wait $sub; echo "WAIT sub=$?"
wait $j3; echo "WAIT j3=$?"
wait $jt; echo "WAIT jt=$?"
wait $pl; echo "WAIT pipe=$?"
echo "MAIN m=$m"
echo DONE
