#!/usr/bin/env bash
# Demo of amber: installs what is missing, builds, then starts a container
# and shows ps, exec, logs and kill, then dumps a container and restores it. Run as root from a
# checkout (a fresh clone is fine): scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh

AMBER_BIN=$PWD/build/amber
amber() { "$AMBER_BIN" "$@"; }
name=demo-$$
trap 'amber kill "$name" >/dev/null 2>&1 || true' EXIT
say() { printf '\n== %s\n' "$*"; }
show() {
  printf '$ %s\n' "$*"
  "$@"
}

say "amber run starts a command as the init of a new container (own pid, uts, ipc, net, mount and"
say "cgroup namespaces, own v2 cgroup) and prints the container's name once the command runs."
show amber run --name "$name" -- sh -c 'echo "hello from $(hostname)"; while :; do date +%s >/tmp/tick; sleep 1; done'

say "amber ps lists containers: the init's host pid and what the container is doing."
show amber ps

say "amber exec runs a command inside it: the hostname is the container's name ..."
show amber exec "$name" -- hostname
say "... and /tmp is the container's own tmpfs: the loop writes a timestamp there every second."
sleep 1.5
show amber exec "$name" -- cat /tmp/tick
[ -e /tmp/tick ] && echo "(the host has a /tmp/tick of its own)" || echo "(the host has no /tmp/tick)"
say "Inside, the init is pid 1 and only the container's processes are visible."
show amber exec "$name" -- ps -o pid,args 2>/dev/null || show amber exec "$name" -- ls /proc
say "The exit status of an exec'd command is passed through:"
set +e
show amber exec "$name" -- sh -c 'exit 7'
echo "exit status: $?"
set -e

say "amber logs prints what the init wrote to stdout and stderr."
show amber logs "$name"

say "amber kill kills every task through cgroup.kill and removes the cgroup and the state."
show amber kill "$name"
show amber ps

say "The seal check: amber proves the container shares nothing with the outside before a dump."
say "An outside task that joins its uts namespace is a leak (exit 3); once it is gone, it is sealed."
name2=demo-count-$$
img=$(mktemp -d /tmp/amber-demo-img.XXXXXX)/image
trap 'amber kill "$name2" >/dev/null 2>&1 || true; rm -rf "$(dirname "$img")"' EXIT
show amber run --name "$name2" -- sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.1; done'
init=$(amber ps | awk -v n="$name2" '$1 == n { print $2 }')
nsenter -t "$init" -u sleep 30 &
intruder=$!
sleep 0.2
set +e
show amber check "$name2"
echo "exit status: $?"
set -e
kill "$intruder"; wait "$intruder" 2>/dev/null || true
show amber check "$name2"

say "Checkpoint and restore of a multi-process container (a shell counting into /tmp/count and"
say "its sleep children): every task is held still, dumped, killed, and restored at the same pids."
sleep 1
show amber exec "$name2" -- cat /tmp/count
show amber exec "$name2" -- ps -o pid,ppid,args 2>/dev/null || true
show amber dump "$name2" -D "$img"
show amber ps
printf '$ amber show %s | head -25\n' "$img"
amber show "$img" | head -25
show amber restore -D "$img"
show amber ps
say "The count carries on from where it stopped; the shell is still pid 1."
show amber exec "$name2" -- cat /tmp/count
sleep 1
show amber exec "$name2" -- cat /tmp/count
show amber exec "$name2" -- grep -E '^(Name|State|NSpid)' /proc/1/status
show amber kill "$name2"
trap - EXIT
rm -rf "$(dirname "$img")"
say "Done."
