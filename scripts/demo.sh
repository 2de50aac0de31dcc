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

say "Checkpoint and restore: a single-process container (here: sleep) is dumped into an image"
say "directory while every task is held still, killed, and restored at the same pid inside."
img=$(mktemp -d /tmp/amber-demo-img.XXXXXX)/image
name2=demo-sleep-$$
trap 'amber kill "$name2" >/dev/null 2>&1 || true; rm -rf "$(dirname "$img")"' EXIT
show amber run --name "$name2" -- sleep 1000
show amber ps
show amber dump "$name2" -D "$img"
show amber ps
show amber show "$img"
show amber restore -D "$img"
show amber ps
show amber exec "$name2" -- grep -E '^(Name|State|NSpid)' /proc/1/status
show amber kill "$name2"
trap - EXIT
rm -rf "$(dirname "$img")"
say "Done."
