# podman with amber as its checkpoint engine, for the swrk_podman_*.sh
# scenarios (sourced after lib.sh, with E2E_PRIVATE_MOUNTS=1: podman mounts
# each container's /dev/shm on the host side).
# A podman of the scenario's own, nothing of the host's podman state touched:
# root, runroot, tmpdir (file locks, exit files) and a containers.conf under
# the scenario's temp dir; cgroupfs manager (the v1 hierarchies of this
# hybrid host) under a cgroup parent of the scenario's; vfs storage; runc;
# no network. amber is `criu` first on PATH: podman asks `criu` its version
# (CRIU's RPC) before a checkpoint, and the runc it runs, itself or through
# conmon at a restore, runs `criu swrk`. Rootfs containers (`podman run
# --rootfs`: the host's sh, sleep and cat, runc_bundle.bash), no image pull.
. "$(dirname "$E2E_LIB")/runc_bundle.bash"
command -v podman >/dev/null || e2e_skip "podman is not installed (scripts/setup.sh)"
command -v conmon >/dev/null || e2e_skip "conmon is not installed (podman's dependency)"

PODMAN_DIR="$E2E_TMP/podman"
PODMAN_CGROUP="/${E2E_PREFIX}podman"
mkdir -p "$PODMAN_DIR/tmp"
# File locks in the tmpdir: podman's default shm locks are one table for
# every podman root of the host.
cat >"$PODMAN_DIR/containers.conf" <<EOF
[engine]
lock_type = "file"
events_logger = "file"
events_logfile_path = "$PODMAN_DIR/events.log"
EOF
ln -sf "$AMBER" "$E2E_BIN/criu"

podman_() {
  CONTAINERS_CONF="$PODMAN_DIR/containers.conf" PATH="$E2E_BIN:$PATH" podman --root "$PODMAN_DIR/root" \
    --runroot "$PODMAN_DIR/runroot" --tmpdir "$PODMAN_DIR/tmp" --cgroup-manager=cgroupfs --storage-driver=vfs \
    --runtime=runc "$@"
}

# podman_start NAME ROOT...: a detached container counting into /count and
# onto its stdout (conmon's pipe into the container's log), a line every
# 0.1 s. ROOT: `--rootfs DIR` (runc_bundle's DIR/rootfs) or an image
# (podman_image). No CAP_SYS_RESOURCE here: podman's default RLIMIT_NPROC
# (the host's maximum) cannot be set, explicit ulimits can.
podman_start() {
  local name=$1
  shift
  podman_ run -d --name "$name" --network none --cgroup-parent "$PODMAN_CGROUP" --ulimit nofile=1024:1024 \
    --ulimit nproc=1024:1024 "$@" /bin/sh -c \
    'i=0; while :; do i=$((i+1)); echo $i >>/count; echo "count $i"; sleep 0.1; done' >/dev/null ||
    fail "podman run $name failed"
}
# podman_image NAME DIR: a local image NAME of DIR/rootfs (podman import of
# its tarball: no registry).
podman_image() {
  tar -C "$2/rootfs" -c . | podman_ import - "$1" >/dev/null 2>&1 || fail "podman import of $2/rootfs failed"
}
podman_status() { podman_ inspect -f '{{.State.Status}}' "$1" 2>/dev/null; }
podman_pid() { podman_ inspect -f '{{.State.Pid}}' "$1"; }
# The last number the container wrote to its stdout (podman logs).
podman_logged() { podman_ logs "$1" 2>/dev/null | sed -n 's/^count //p' | tail -n 1; }
# amber's errors from the logs podman kept (checkpoint --keep: the work
# directory's dump.log; restore.log is podman's bundle's).
podman_amber_errors() {
  grep -h 'Error: ' "$PODMAN_DIR"/root/vfs-containers/*/userdata/*.log 2>/dev/null | sed 's/.*Error: //' | head -5
}

# The scenario's cgroups, deepest first, in every hierarchy.
podman_cgroups() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h${PODMAN_CGROUP#/}" ] && find "$h${PODMAN_CGROUP#/}" -depth -type d
  done
}

podman_cleanup() {
  local cg p
  podman_ rm -af -t 0 >/dev/null 2>&1
  # What podman could not stop (a failed restore can leave tasks runc no
  # longer knows, and their conmon): every process under the scenario's
  # cgroup parent, thawed first (a frozen task dies only once thawed).
  for cg in $(podman_cgroups); do
    [ -f "$cg/freezer.state" ] && echo THAWED >"$cg/freezer.state" 2>/dev/null
    for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  done
  # Its mounts (the private mount namespace goes with the scenario, the
  # directories are removed now), then its cgroups, once their tasks are gone.
  awk -v d="$PODMAN_DIR" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
  for _ in $(seq 50); do
    for cg in $(podman_cgroups); do rmdir "$cg" 2>/dev/null; done
    [ -z "$(podman_cgroups)" ] && break
    sleep 0.1
  done
  [ -z "$(podman_cgroups)" ] || echo "podman cgroups left: $(podman_cgroups | tr '\n' ' ')" >&2
}
trap 'rc=$?; set +e; podman_cleanup; runc_cleanup; (exit $rc); e2e_cleanup' EXIT
