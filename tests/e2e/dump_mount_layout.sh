# A --rootfs container with the mount table container runtimes build (runc's
# default layout: proc, sysfs ro, a tmpfs /dev with its nodes and links,
# devpts with ptys in use, /dev/shm, /dev/mqueue, masked and read-only
# paths) plus mounts made inside it: a tmpfs with content, binds of it (a
# peer of a shared mount, a slave, a read-only bind of the rootfs), and a
# bind from the host declared external. A dump without the declaration, and
# one of a mount amber cannot make again, are refused by name, the container
# running on; the real dump → kill → restore brings every mount back in
# order (restore verification compares them), propagation included, the
# host's directory bound again, the ptys intact.
. "$E2E_LIB"

root="$E2E_TMP/rootfs"
make_busybox_rootfs "$root"
mkdir -p "$root/sys" "$root/data" "$root/mnt/t" "$root/mnt/a" "$root/mnt/s" "$root/mnt/r" "$root/etc/ro"
echo rootfs >"$root/etc/ro/f"
cp "$WORKLOADS/pty" "$root/bin/pty"
hostdata="$E2E_TMP/hostdata"
mkdir -p "$hostdata"
echo before >"$hostdata/file"
graft=$(e2e_workload seal_mount)

n=$(e2e_name mnt)
"$AMBER" run --name "$n" --rootfs "$root" -- /bin/pty >/dev/null
wait_until 10 grep -q "pty: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
x() { "$AMBER" exec "$n" -- "$@"; }

note "the default layout"
layout=$(x cat /proc/self/mountinfo | awk '{ print $5 }' | xargs)
for mp in / /proc /dev /dev/pts /dev/shm /dev/mqueue /sys /tmp /proc/acpi /proc/keys /sys/firmware /proc/bus; do
  case " $layout " in *" $mp "*) ;; *) fail "no mount at $mp in the default layout: $layout" ;; esac
done
assert_eq "" "$(x cat /proc/keys)" "/proc/keys is masked by /dev/null"
assert_eq "ro ro" "$(x cat /proc/self/mountinfo | awk '$5 == "/proc/fs" || $5 == "/sys" { print substr($6, 1, 2) }' | xargs)" \
  "/proc/fs and /sys are read-only"

note "mounts made inside"
x sh -c 'mount -t tmpfs -o size=2m,mode=0750 data /mnt/t && echo content >/mnt/t/file && mkdir -p /mnt/t/d/p &&
  ln -s file /mnt/t/link && mount --make-shared /mnt/t && mount --bind /mnt/t /mnt/a &&
  mount --bind /mnt/t/d /mnt/s && mount --make-slave /mnt/s &&
  mount --bind /etc/ro /etc/ro && mount -o remount,bind,ro /etc/ro' || fail "mounts inside the container"
"$graft" graft "$pid" "$hostdata" /data || fail "graft the host's directory on /data"

# mount point, type, per-mount options and propagation (group numbers by
# first appearance), sorted by mount point.
table() {
  x cat /proc/self/mountinfo | awk '{
      prop = ""
      for (i = 7; $i != "-"; i++) prop = prop " " $i
      for (j = i; j <= NF; j++) if ($j == "-") break
      print $5, $(j + 1), $6, prop
    }' | sort -s -k1,1 | awk '{
      out = $1 " " $2 " " $3
      for (i = 4; i <= NF; i++) {
        split($i, kv, ":")
        if (!(kv[2] in id)) id[kv[2]] = ++nid
        out = out " " kv[1] ":" id[kv[2]]
      }
      print out
    }'
}
before=$(table)
dev_before=$(x ls -la /dev | awk '{ print $1, $NF }')
assert_contains "$before" "/mnt/a tmpfs rw,relatime shared:1" "peer of /mnt/t"
assert_contains "$before" "/mnt/s tmpfs rw,relatime master:1" "slave of /mnt/t's group"
assert_contains "$before" "/etc/ro ext4 ro,relatime" "read-only bind"

note "a mount amber cannot make again is refused by name"
x mount -t ramfs ramfs /mnt/r || fail "mount ramfs"
run_cmd "$AMBER" check "$n"
assert_contains "$OUT$ERR" "declare it with --external mount:/data" "check names the undeclared bind too"
assert_eq 4 "$STATUS" "amber check with a ramfs mount"
assert_contains "$OUT$ERR" "mount /mnt/r (ramfs from ramfs, root /): amber cannot make a new ramfs mount" "check names it"
assert_fails 4 "mount /mnt/r (ramfs from ramfs, root /): amber cannot make a new ramfs mount" \
  "$AMBER" dump "$n" -D "$E2E_TMP/img-ramfs" --external mount:/data
assert_eq running "$(ps_state "$n")" "state after the refused dump"
x umount /mnt/r

note "a bind from the host must be declared"
assert_fails 4 "mount /data (ext4" "$AMBER" dump "$n" -D "$E2E_TMP/img-undeclared"
assert_contains "$ERR" "a bind of the host's $hostdata: declare it with --external mount:/data" "the remedy"
assert_eq running "$(ps_state "$n")" "state after the refused dump"

note "dump, kill, restore"
"$AMBER" dump "$n" -D "$E2E_TMP/img" --external mount:/data >/dev/null
assert_nothing_left "$n" "$pid"
if grep -qF "$E2E_TMP" /proc/self/mountinfo; then fail "the host sees mounts under $E2E_TMP"; fi
echo after >"$hostdata/file"  # the host's directory is bound again, not copied
run_cmd env AMBER_FAULT=restore.mounts "$AMBER" restore -D "$E2E_TMP/img"
assert_eq 1 "$STATUS" "restore failing once the mounts are made (stderr: $ERR)"
assert_nothing_left "$n"
if grep -qF "$E2E_TMP" /proc/self/mountinfo; then fail "a failed restore left mounts under $E2E_TMP on the host"; fi
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
assert_eq "$before" "$(table)" "mount table after restore"
assert_eq "$dev_before" "$(x ls -la /dev | awk '{ print $1, $NF }')" "/dev after restore"
assert_eq "content content" "$(x cat /mnt/t/file /mnt/a/file | xargs)" "tmpfs content and its peer"
assert_eq file "$(x readlink /mnt/t/link)" "symlink in the tmpfs"
assert_eq after "$(x cat /data/file)" "the host's directory on /data"
x sh -c 'echo inside >/data/new' || fail "write through /data"
assert_eq inside "$(cat "$hostdata/new")" "written to the host's directory"
run_cmd "$AMBER" exec "$n" -- sh -c 'echo x >/etc/ro/f'
assert_ne 0 "$STATUS" "/etc/ro stays read-only"
assert_eq rootfs "$(x cat /etc/ro/f)" "read-only bind content"
assert_eq "" "$(x cat /proc/keys)" "/proc/keys still masked"

note "propagation works as before"
x mount -t tmpfs p /mnt/a/d/p || fail "mount on the peer"
after=$(x cat /proc/self/mountinfo | awk '{ print $5 }')
for mp in /mnt/a/d/p /mnt/t/d/p /mnt/s/p; do
  assert_contains "$after" "$mp" "a mount on the peer /mnt/a propagates to $mp"
done
x umount /mnt/a/d/p

note "the ptys"
kill -USR1 "$(init_pid "$n")"
wait_until 10 ps_state_is "$n" "stopped (exit 0)"
assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "pty: OK" "workload verdict"
"$AMBER" kill "$n"
assert_eq "bin data dev etc mnt proc sys tmp" "$(ls "$root" | xargs)" "rootfs after kill"
