# A rootfs that is an overlayfs (as podman's overlay driver mounts one: a
# read-only lower layer, the container's writes in the upper one): the
# container's root is that overlay, reached by pivot_root; the dump records
# it as a bind of the host's overlay mount, and the restore binds it again —
# what the container wrote is in the upper layer, not in the image. Mounted
# again elsewhere (as podman does before a restore), `--rootfs` names it.
E2E_PRIVATE_MOUNTS=1  # its overlay / `ip netns add` mounts stay out of the host's namespace (lib.sh)
. "$E2E_LIB"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
grep -qw overlay /proc/filesystems || e2e_skip "no overlayfs in this kernel"

lower="$E2E_TMP/lower"
make_busybox_rootfs "$lower"
mkdir -p "$lower/sys" "$E2E_TMP/upper" "$E2E_TMP/work" "$E2E_TMP/merged"
merged="$E2E_TMP/merged"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$E2E_TMP/upper,workdir=$E2E_TMP/work" "$merged"
trap 'rc=$?; umount -l "$merged" 2>/dev/null || true; umount -l "$merged2" 2>/dev/null || true; (exit $rc); e2e_cleanup' EXIT
merged2="$E2E_TMP/merged2"

n=$(e2e_name ovl)
"$AMBER" run --name "$n" --rootfs "$merged" -- \
  sh -c 'i=0; while :; do i=$((i+1)); echo $i >/count; sleep 0.1; done' >/dev/null
x() { "$AMBER" exec "$n" -- "$@"; }
wait_until 5 x test -s /count
assert_eq overlay "$(x cat /proc/self/mountinfo | awk '$5 == "/" { for (i = 7; $i != "-"; i++); print $(i + 1) }')" \
  "the container's root is the overlay"
x sh -c 'echo written >/etc-file'
[ -f "$E2E_TMP/upper/etc-file" ] || fail "the container's write is not in the upper layer"
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img" >/dev/null
assert_nothing_left "$n" "$pid"
assert_contains "$("$AMBER" show "$E2E_TMP/img")" "/ type overlay from overlay root / rw,relatime: root, bind of $merged" \
  "the root's recipe"
c0=$(cat "$E2E_TMP/upper/count")

note "the overlay mounted again at another path"
umount "$merged"
mkdir "$merged2"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$E2E_TMP/upper,workdir=$E2E_TMP/work" "$merged2"
assert_fails 2 "rootfs $merged: no /proc (the mount point of a proc mount)" "$AMBER" restore -D "$E2E_TMP/img"
"$AMBER" restore -D "$E2E_TMP/img" --rootfs "$merged2" >/dev/null
assert_eq written "$(x cat /etc-file)" "the upper layer's file after restore"
c1=$(x cat /count)
[ "$c1" -ge "$c0" ] || fail "count went back: $c0 at the dump, $c1 after"
sleep 0.5
c2=$(x cat /count)
[ "$c2" -gt "$c1" ] || fail "the loop does not count on after restore: $c1 then $c2"
"$AMBER" kill "$n"
[ ! -e "$lower/count" ] || fail "the lower layer was written"
