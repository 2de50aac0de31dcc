# A --rootfs container (busybox) with a shell loop counting into its own
# tmpfs /tmp, plus files there with modes, owners and times of their own:
# dumped, killed and restored, it counts on from where it stopped and the
# tmpfs content comes back with its metadata.
. "$E2E_LIB"

root="$E2E_TMP/rootfs"
make_busybox_rootfs "$root"
n=$(e2e_name rfs)
"$AMBER" run --name "$n" --rootfs "$root" -- \
  sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.1; done' >/dev/null
x() { "$AMBER" exec "$n" -- "$@"; }
wait_until 5 x test -s /tmp/count

note "tmpfs content with modes, owners and times"
x sh -c 'mkdir -p /tmp/d/sub && echo secret >/tmp/d/sub/f && chmod 0640 /tmp/d/sub/f && chown 1000:1001 /tmp/d/sub/f &&
  chmod 0710 /tmp/d/sub && chown 1002:1003 /tmp/d/sub && chmod 4755 /tmp/d && ln -s sub/f /tmp/d/link &&
  ln /tmp/d/sub/f /tmp/d/hard && mkfifo -m 0620 /tmp/d/fifo && echo shm >/dev/shm/s && chmod 0600 /dev/shm/s &&
  touch -d "2001-02-03 04:05:06" /tmp/d/sub/f /tmp/d/sub /tmp/d/fifo'
meta() {
  x sh -c 'cd /tmp/d && stat -c "%n %f %u %g %Y %h" . sub sub/f hard fifo && readlink link && cat sub/f && stat -c "%n %a %s" /dev/shm/s'
}
before=$(meta)
count_before=$(x cat /tmp/count)
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
assert_eq "bin dev proc tmp" "$(ls "$root" | xargs)" "rootfs after the dump"

"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
assert_eq "$before" "$(meta)" "tmpfs content after restore"
c1=$(x cat /tmp/count)
[ "$c1" -ge "$count_before" ] || fail "count went back: $count_before before the dump, $c1 after"
sleep 0.5
c2=$(x cat /tmp/count)
[ "$c2" -gt "$c1" ] || fail "the loop does not count on after restore: $c1 then $c2"
assert_eq "$n" "$(x hostname)" "hostname"
assert_eq "bin dev proc tmp" "$(x ls / | xargs)" "ls / inside"
assert_eq "sh" "$(x cat /proc/1/comm)" "pid 1 inside"
"$AMBER" kill "$n"
assert_eq "bin dev proc tmp" "$(ls "$root" | xargs)" "rootfs after kill"

note "a rootfs that lost a mount point: refused before anything is created"
rmdir "$root/tmp"
assert_fails 2 "no /tmp (the mount point of a tmpfs mount)" "$AMBER" restore -D "$E2E_TMP/img"
assert_nothing_left "$n"
assert_eq "bin dev proc" "$(ls "$root" | xargs)" "rootfs after the refused restore"
mkdir "$root/tmp"
