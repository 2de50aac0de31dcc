# runc bundles for the swrk_runc_*.sh scenarios (sourced after lib.sh).
# No busybox: the rootfs holds the host's /bin/sh, sleep and cat with their
# libraries; runc's own default spec (cgroupfs manager, the v1 hierarchies
# of this hybrid host), not a terminal, running a shell that counts into
# /count of its rootfs (appended, a line per number). Every container is deleted on exit.
command -v runc >/dev/null || e2e_skip "runc is not installed (scripts/setup.sh)"
PY=/usr/bin/python3
RUNC_ROOT="$E2E_TMP/runc"
RUNC_IDS=""
runc_() { runc --root "$RUNC_ROOT" "$@"; }

# runc_bundle DIR [MODE]: the bundle. MODE "" is runc's default spec;
# "amber-layout": a cgroup namespace of its own (the default spec shares the
# host's) and the mounts amber's own containers have (proc, a tmpfs /dev,
# devpts, /dev/shm, /tmp; no sysfs, mqueue, cgroup, masked or read-only
# paths), which amber dumps today.
runc_bundle() {
  local dir=$1 bin lib
  mkdir -p "$dir/rootfs"
  for bin in /bin/sh /bin/sleep /bin/cat; do
    mkdir -p "$dir/rootfs$(dirname "$bin")"
    cp "$bin" "$dir/rootfs$bin"
    for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
      mkdir -p "$dir/rootfs$(dirname "$lib")"
      cp -L "$lib" "$dir/rootfs$lib"
    done
  done
  mkdir -p "$dir/rootfs/proc" "$dir/rootfs/dev" "$dir/rootfs/sys" "$dir/rootfs/tmp"
  (cd "$dir" && runc spec)
  "$PY" - "$dir/config.json" "${2:-}" <<'PYEOF'
import json, sys
path, mode = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo $i >>/count; sleep 0.1; done"]
c["root"]["readonly"] = False
if mode == "amber-layout":
    c["linux"]["namespaces"].append({"type": "cgroup"})
    c["mounts"] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "nodev", "noexec"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=1m"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "nodev", "mode=1777"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
    ]
    c["linux"]["maskedPaths"] = []
    c["linux"]["readonlyPaths"] = []
json.dump(c, open(path, "w"), indent=1)
PYEOF
}

# runc_start ID BUNDLE: runs it detached (stdio on /dev/null); prints its init's pid.
runc_start() {
  RUNC_IDS="$RUNC_IDS $1"
  (cd "$2" && runc_ run -d "$1" </dev/null >/dev/null 2>&1) || fail "runc run $1 failed"
  runc_pid "$1"
}
runc_pid() { runc_ state "$1" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["pid"])'; }
runc_status() { runc_ state "$1" 2>/dev/null | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["status"])' 2>/dev/null; }
# The shell appends each number to /count (one write): its last line. (A
# file truncated before each write could be caught empty by the dump.)
runc_count() { tail -n 1 "$1/rootfs/count" 2>/dev/null | grep . || echo 0; }
# counts_on FILE: 1, 2, 3, ... with no number missing or repeated: a shell
# that counted on from where it was checkpointed (not from 1 again).
counts_on() {
  awk 'NR != $1 { printf "line %d is %s\n", NR, $1; exit 1 }' "$1" || fail "the count in $1 is not 1, 2, 3, ..."
}

# Every container of this scenario's runc root (RUNC_IDS alone missed the
# ones started in $(runc_start ...): a subshell's assignment is lost, and
# swrk_runc_leak left its counting container running after every run).
runc_cleanup() {
  local id
  for id in $RUNC_IDS $(runc_ list -q 2>/dev/null); do runc_ delete --force "$id" >/dev/null 2>&1; done
}
trap 'rc=$?; runc_cleanup; (exit $rc); e2e_cleanup' EXIT
