# containerd for the swrk_containerd_*.sh scenarios (sourced after lib.sh,
# which the scenario runs with E2E_PRIVATE_MOUNTS=1: containerd's overlay
# snapshots and the shims' rootfs mounts stay in the scenario's own mount
# namespace, where the scenario reads the containers' rootfs).
#
# A containerd daemon of the scenario's own: root, state, gRPC and ttrpc
# sockets under E2E_TMP, no CRI plugin, the runc v2 shim with the cgroupfs
# manager (v1 hierarchies of this hybrid host, and the unified one), and
# amber as the `criu` on its PATH (ctr cannot set runc's CriuPath: the shim
# runs runc, which runs the first `criu` on the PATH it inherited from
# containerd). An image with the host's sh, sleep and cat (no network, no
# registry) imported into a containerd namespace of the scenario's own,
# whose name is also the containers' cgroup parent (/NS/ID). Everything is
# killed and removed on exit: tasks, containers, the daemon, the shims, the
# mounts, the cgroups in every hierarchy, runc's state and ctr's fifos.
command -v containerd >/dev/null && command -v ctr >/dev/null ||
  e2e_skip "containerd is not installed (scripts/setup.sh)"
command -v containerd-shim-runc-v2 >/dev/null || e2e_skip "containerd-shim-runc-v2 is not installed"
command -v runc >/dev/null || e2e_skip "runc is not installed (scripts/setup.sh)"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
grep -qw overlay /proc/filesystems || e2e_skip "no overlayfs in this kernel (containerd's snapshotter)"
[ -n "${E2E_IN_PRIVATE_MOUNTS:-}" ] || fail "set E2E_PRIVATE_MOUNTS=1 before sourcing lib.sh"
PY=/usr/bin/python3
CTRD_DIR="$E2E_TMP/containerd"
CTRD_SOCK="$CTRD_DIR/containerd.sock"
CTRD_STATE="$CTRD_DIR/state"
# A containerd namespace (and cgroup parent) unique to this run; the
# scenario's container ids start with it too (ctr's fifos are named by id).
CTRD_NS="amber-e2e-$$"
CTRD_PID=""
CTRD_IMAGE="docker.io/amber-e2e/count:1"
ctr_() { ctr --address "$CTRD_SOCK" --namespace "$CTRD_NS" --timeout 60s "$@"; }

# ctrd_start: the daemon, with amber's `criu` link first on its PATH.
ctrd_start() {
  mkdir -p "$CTRD_DIR"
  ln -sf "$AMBER" "$E2E_BIN/criu"
  cat >"$CTRD_DIR/config.toml" <<EOF
version = 2
root = "$CTRD_DIR/root"
state = "$CTRD_STATE"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.opt",
  "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$CTRD_SOCK"
[ttrpc]
  address = "$CTRD_SOCK.ttrpc"
[debug]
  address = "$CTRD_DIR/debug.sock"
EOF
  PATH="$E2E_BIN:$PATH" containerd --config "$CTRD_DIR/config.toml" >"$CTRD_DIR/containerd.log" 2>&1 &
  CTRD_PID=$!
  wait_until 20 ctr --address "$CTRD_SOCK" version ||
    fail "containerd did not start: $(tail -n 5 "$CTRD_DIR/containerd.log")"
}

# ctrd_import_image: an OCI image layout (one uncompressed layer: the
# host's /bin/sh, sleep and cat with their libraries, and the mount points
# runc needs) imported as CTRD_IMAGE.
ctrd_import_image() {
  "$PY" - "$CTRD_DIR/image.tar" "$CTRD_IMAGE" <<'PYEOF'
import hashlib, io, json, re, subprocess, sys, tarfile
out, name = sys.argv[1], sys.argv[2]
files = set()
for binary in ["/bin/sh", "/bin/sleep", "/bin/cat"]:
    files.add(binary)
    files.update(re.findall(r"(/\S+) \(0x", subprocess.check_output(["ldd", binary], text=True)))
blobs = {}
def blob(data, media):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"mediaType": media, "digest": digest, "size": len(data)}
def entry(tar, path, data=None):
    info = tarfile.TarInfo(path.lstrip("/"))
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    else:
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w") as t:
    dirs = {"/proc", "/dev", "/sys", "/tmp", "/run"}
    for f in files:
        parts = f.split("/")[1:-1]
        dirs.update("/" + "/".join(parts[:i + 1]) for i in range(len(parts)))
    for d in sorted(dirs):
        entry(t, d)
    for f in sorted(files):
        with open(f, "rb") as src:  # the library itself, not its symlink
            entry(t, f, src.read())
layer_desc = blob(layer.getvalue(), "application/vnd.oci.image.layer.v1.tar")
config = {"architecture": "amd64", "os": "linux",
          "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
          "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]}}
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json"),
            "layers": [layer_desc]}
desc = blob(json.dumps(manifest).encode(), manifest["mediaType"])
desc["annotations"] = {"io.containerd.image.name": name}
desc["platform"] = {"architecture": "amd64", "os": "linux"}
with tarfile.open(out, "w") as t:
    def put(path, data):
        info = tarfile.TarInfo(path)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    put("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
    put("index.json", json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode())
    for digest, data in blobs.items():
        put("blobs/sha256/" + digest.split(":")[1], data)
PYEOF
  run_cmd ctr_ image import "$CTRD_DIR/image.tar"
  [ "$STATUS" = 0 ] || fail "ctr image import: $ERR"
}

# ctrd_bundle ID: the container's bundle; its rootfs is mounted there by the shim.
ctrd_bundle() { echo "$CTRD_STATE/io.containerd.runtime.v2.task/$CTRD_NS/$1"; }
ctrd_status() { ctr_ task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
ctrd_pid() { ctr_ task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }'; }
# The shell appends each number to /count of its rootfs: its last line.
ctrd_count() { tail -n 1 "$(ctrd_bundle "$1")/rootfs/count" 2>/dev/null | grep . || echo 0; }
# counts_on FILE: 1, 2, 3, ... with no number missing or repeated.
counts_on() {
  awk 'NR != $1 { printf "line %d is %s\n", NR, $1; exit 1 }' "$1" || fail "the count in $1 is not 1, 2, 3, ..."
}
COUNTING_SHELL='i=0; while :; do i=$((i+1)); echo $i >>/count; sleep 0.1; done'
# ctrd_counting ID WHEN: its count grows (it was not left frozen or stopped).
ctrd_counting() {
  local c
  c=$(ctrd_count "$1")
  sleep 0.5
  [ "$(ctrd_count "$1")" -gt "$c" ] || fail "it stopped counting $2"
}
# ctrd_run ID: a counting container with ctr's default spec, its stdout and
# stderr piped to the shim (which writes them to E2E_TMP/ID.log); prints its pid.
ctrd_run() {
  local id=$1
  run_cmd ctr_ run -d --log-uri "file://$E2E_TMP/$id.log" "$CTRD_IMAGE" "$id" /bin/sh -c "echo counting; $COUNTING_SHELL"
  [ "$STATUS" = 0 ] || fail "ctr run $id: $ERR"
  wait_until 10 eval '[ "$(ctrd_count "$id")" -ge 3 ]'
  ctrd_pid "$id"
}
# amber_errors LOG...: amber's "Error: " lines (ctr quotes runc's error;
# amber's log is in the work directory given to the checkpoint, else in the
# shim's, which the shim removes after a checkpoint).
amber_errors() { grep -h 'Error: ' "$@" 2>/dev/null | sed 's/.*Error: //' | head -5; }
# ctrd_restore_log ID: amber's log of the restore the shim asked for.
ctrd_restore_log() { echo "$CTRD_DIR/root/io.containerd.runtime.v2.task/$CTRD_NS/$1/restore.log"; }

# ctrd_remove ID: the task killed and deleted, then the container (and its snapshot).
ctrd_remove() {
  ctr_ task kill --signal SIGKILL "$1" >/dev/null 2>&1
  for _ in $(seq 50); do
    case "$(ctrd_status "$1")" in RUNNING | PAUSED | PAUSING | CREATED) sleep 0.1 ;; *) break ;; esac
  done
  ctr_ task delete --force "$1" >/dev/null 2>&1
  ctr_ container delete "$1" >/dev/null 2>&1
}

ctrd_cleanup() {
  local id p h addr
  set +e
  if [ -n "$CTRD_PID" ] && kill -0 "$CTRD_PID" 2>/dev/null; then
    for id in $(ctr_ container ls -q 2>/dev/null); do ctrd_remove "$id"; done
  fi
  # What the daemon could not remove: shims (found by the daemon's address
  # in their command line), the containers' processes (by their cgroups).
  for p in $(pgrep -f -- "-address $CTRD_SOCK( |\$)"); do kill -9 "$p"; done
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h$CTRD_NS" ] || continue
    for p in $(cat "$h$CTRD_NS"/*/cgroup.procs 2>/dev/null); do kill -9 "$p"; done
  done
  # A paused task (v1 freezer) dies of SIGKILL only once thawed.
  for p in /sys/fs/cgroup/freezer/"$CTRD_NS"/*/freezer.state; do [ -f "$p" ] && echo THAWED >"$p"; done
  if [ -n "$CTRD_PID" ]; then
    kill "$CTRD_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$CTRD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$CTRD_PID" 2>/dev/null
    wait "$CTRD_PID" 2>/dev/null
  fi
  for addr in "$CTRD_STATE"/io.containerd.runtime.v2.task/"$CTRD_NS"/*/address; do
    [ -f "$addr" ] && rm -f "$(sed 's|^unix://||' "$addr")"
  done
  findmnt -rn -o TARGET | grep "^$CTRD_DIR/" | sort -r | xargs -r -n 1 umount -l
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h$CTRD_NS" ] || continue
    for _ in $(seq 50); do
      rmdir "$h$CTRD_NS"/*/ 2>/dev/null
      rmdir "$h$CTRD_NS" 2>/dev/null && break
      sleep 0.1
    done
    [ ! -d "$h$CTRD_NS" ] || echo "cgroup left: $h$CTRD_NS" >&2
  done
  rm -rf "/run/containerd/runc/$CTRD_NS"
  # ctr's stdio fifos (/run/containerd/fifo/RANDOM/ID-stdout, ...).
  for p in /run/containerd/fifo/*/"$CTRD_NS"-*; do
    [ -e "$p" ] && rm -f "$p" && rmdir "$(dirname "$p")" 2>/dev/null
  done
}
trap 'rc=$?; ctrd_cleanup; (exit $rc); e2e_cleanup' EXIT
