# --rootfs: the container sees only its rootfs (busybox-static), with its own
# /proc, /dev (+ pts, shm, mqueue) and /tmp, runc's masked and read-only
# /proc paths (no /sys in this rootfs: no sysfs); the host keeps no mount of it.
. "$E2E_LIB"

root="$E2E_TMP/rootfs"
make_busybox_rootfs "$root"
n=$(e2e_name rfs)
"$AMBER" run --name "$n" --rootfs "$root" -- sh -c 'echo hello from rootfs; ls /; exec sleep 1000' >/dev/null
pid=$(init_pid "$n")

note "the init's output"
wait_until 5 sh -c "grep -q tmp '$AMBER_STATE_DIR/$n/log'"
assert_eq "hello from rootfs
bin
dev
proc
tmp" "$("$AMBER" logs "$n")" "amber logs"

note "only the rootfs is visible"
assert_eq "bin dev proc tmp" "$("$AMBER" exec "$n" -- ls / | xargs)" "ls / inside"
assert_eq "$(readlink -f "$root/bin/busybox" | xargs stat -c %i)" "$("$AMBER" exec "$n" -- stat -c %i /bin/busybox)" \
  "inode of /bin/busybox inside"
run_cmd "$AMBER" exec "$n" -- test -e /usr
assert_eq 1 "$STATUS" "/usr must not exist inside"
mounts=$("$AMBER" exec "$n" -- cat /proc/self/mountinfo | awk '{ print $5 }' | sort | xargs)
# (masked and read-only paths this kernel does not have are skipped)
want="/ /dev /dev/mqueue /dev/pts /dev/shm /proc"
for p in /proc/acpi /proc/asound /proc/bus /proc/fs /proc/irq /proc/kcore /proc/keys /proc/latency_stats /proc/sched_debug \
  /proc/scsi /proc/sysrq-trigger /proc/timer_list /proc/timer_stats; do
  [ ! -e "$p" ] || want="$want $p"
done
assert_eq "$(echo "$want /tmp" | tr ' ' '\n' | sort | xargs)" "$mounts" "mount points inside (old root detached)"
types=$("$AMBER" exec "$n" -- cat /proc/self/mounts | awk '$2 != "/" && $2 !~ /^\/proc\// { print $2 "=" $3 }' | sort | xargs)
assert_eq "/dev/mqueue=mqueue /dev/pts=devpts /dev/shm=tmpfs /dev=tmpfs /proc=proc /tmp=tmpfs" "$types" "filesystem types inside"

note "/dev"
for d in null zero full random urandom tty; do
  "$AMBER" exec "$n" -- test -c /dev/$d || fail "/dev/$d is not a character device"
done
assert_eq "" "$("$AMBER" exec "$n" -- head -c 16 /dev/zero | tr -d '\0')" "/dev/zero reads zeros"
assert_eq 16 "$("$AMBER" exec "$n" -- head -c 16 /dev/urandom | wc -c | xargs)" "/dev/urandom reads"
assert_eq /proc/self/fd "$("$AMBER" exec "$n" -- readlink /dev/fd)" "/dev/fd"
for i in 0 1 2; do
  s=$(echo "stdin stdout stderr" | cut -d' ' -f$((i + 1)))
  assert_eq /proc/self/fd/$i "$("$AMBER" exec "$n" -- readlink /dev/$s)" "/dev/$s"
done
assert_eq hi "$("$AMBER" exec "$n" -- sh -c 'echo hi >/dev/shm/x && cat /dev/shm/x')" "/dev/shm is writable"

note "the init is pid 1 and the hostname is the name"
assert_eq "sleep 1000" "$("$AMBER" exec "$n" -- sh -c "tr '\\0' ' ' </proc/1/cmdline" | xargs)" "pid 1 inside"
assert_eq "$n" "$("$AMBER" exec "$n" -- hostname)" "hostname"
"$AMBER" exec "$n" -- ip link show lo | grep -q 'UP' || fail "lo is not up: $("$AMBER" exec "$n" -- ip link show lo)"

note "no mount of the rootfs on the host"
if grep -qF "$root" /proc/self/mountinfo; then fail "the host sees mounts under $root"; fi

note "kill"
shim=$(awk '{ sub(/.*\) /, ""); split($0, f, " "); print f[2] }' /proc/$pid/stat)
"$AMBER" kill "$n"
assert_nothing_left "$n" "$pid" "$shim"
assert_eq "bin dev proc tmp" "$(ls "$root" | xargs)" "rootfs after kill"
assert_eq "" "$(ls -A "$root/tmp" "$root/dev" "$root/proc" | grep -v ':$' | xargs)" "mount points left empty"
