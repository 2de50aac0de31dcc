# Confined images (issue 12): a hand-edited image (checksums recomputed by
# image_edit) can make a restore write nothing on the host, nothing in a
# rootfs, and give no task credentials above amber's own. Each is refused
# with exit 2 before anything is created: no file on the host, no state
# directory, no cgroup, no process.
. "$E2E_LIB"

edit="$WORKLOADS/image_edit"
n=$(e2e_name conf)
# A host directory the edited images aim at (under /var/tmp: a container
# without a rootfs sees the host's /var/tmp, its /tmp is its own).
host="$E2E_BIN/host"
mkdir -m 0755 "$host"
host_listing() { stat -c '%a %u %Y' "$host"; ls -A "$host"; }
host_before=$(host_listing)

our_cgroups() { ls "$AMBER_CGROUP_ROOT" 2>/dev/null | grep -c "^$E2E_PREFIX" || true; }
# check_refused WHAT DIR MESSAGE-PART: show --verify and restore exit 2
# with one line naming the cause; nothing is left and the host directory
# is untouched.
check_refused() {
  assert_fails 2 "$3" "$AMBER" show "$2" --verify
  assert_fails 2 "$3" "$AMBER" restore -D "$2" --name "$n-r"
  assert_nothing_left "$n-r"
  assert_eq "$cgroups_before" "$(our_cgroups)" "$1: cgroups after a refused restore"
  assert_eq "$host_before" "$(host_listing)" "$1: the host directory $host after the restore"
}
copy_image() { rm -rf "$E2E_TMP/$2" && cp -a "$1" "$E2E_TMP/$2" && echo "$E2E_TMP/$2"; }
# rewrite DIR RELPATH SED-SCRIPT: edits a metadata file as protobuf text.
rewrite() {
  "$edit" "$1" decode "$2" >"$E2E_TMP/msg.txt"
  sed -e "$3" "$E2E_TMP/msg.txt" >"$E2E_TMP/msg2.txt"
  ! cmp -s "$E2E_TMP/msg.txt" "$E2E_TMP/msg2.txt" || fail "rewrite $2: '$3' changed nothing"
  "$edit" "$1" encode "$2" <"$E2E_TMP/msg2.txt"
}

# --- a container without a rootfs, something in its /tmp -------------------
"$AMBER" run --name "$n" -- sh -c 'echo kept > /tmp/kept; exec sleep 1000' >/dev/null
wait_until 5 eval 'grep -q kept "/proc/$(init_pid "$n")/root/tmp/kept"'
img="$E2E_TMP/img"
"$AMBER" dump "$n" -D "$img" >/dev/null
assert_nothing_left "$n"
cgroups_before=$(our_cgroups)
tmp_tree=$(cd "$img" && for f in fs/*.img; do "$edit" . decode "$f" | grep -q '^mountpoint: "/tmp"$' && echo "$f"; done)
[ -n "$tmp_tree" ] || fail "the image has no tree for /tmp"

note "/tmp's content given to a mount at a host directory: a new tmpfs there, in the container's namespace"
d=$(copy_image "$img" img-mount-host)
rewrite "$d" container.img "s|mountpoint: \"/tmp\"|mountpoint: \"$host\"|"
rewrite "$d" "$tmp_tree" "s|^mountpoint: \"/tmp\"|mountpoint: \"$host\"|"
"$AMBER" restore -D "$d" --name "$n-r" >/dev/null
assert_eq kept "$("$AMBER" exec "$n-r" -- cat "$host/kept")" "the content in the container's tmpfs at $host"
"$AMBER" kill "$n-r"
assert_eq "$host_before" "$(host_listing)" "mount-host: the host directory $host after the restore"
[ ! -e "$host/kept" ] || fail "restore wrote $host/kept on the host"

note "/tmp's content given to /tmp/../$host"
d=$(copy_image "$img" img-mount-dotdot)
rewrite "$d" container.img "s|mountpoint: \"/tmp\"|mountpoint: \"/tmp/..$host\"|"
rewrite "$d" "$tmp_tree" "s|^mountpoint: \"/tmp\"|mountpoint: \"/tmp/..$host\"|"
check_refused mount-dotdot "$d" "bad mount point"

note "the issue's image: /tmp/evil -> $host, then evil/x"
d=$(copy_image "$img" img-evil-link)
"$edit" "$d" decode "$tmp_tree" >"$E2E_TMP/tree.txt"
# The data of "kept" serves as x's.
kept=$(awk '/^entries \{/ { e = "" } { e = e $0 "\n" } /^}/ && e ~ /path: "kept"/ { printf "%s", e }' "$E2E_TMP/tree.txt")
[ -n "$kept" ] || fail "no entry for kept in $tmp_tree"
{
  grep -v '^data_' "$E2E_TMP/tree.txt"
  printf 'entries {\n  path: "evil"\n  mode: %d\n  link: "%s"\n}\n' $((8#120777)) "$host"
  printf '%s' "$kept" | sed 's|path: "kept"|path: "evil/x"|'
  grep '^data_' "$E2E_TMP/tree.txt"
} >"$E2E_TMP/tree2.txt"
"$edit" "$d" encode "$tmp_tree" <"$E2E_TMP/tree2.txt"
check_refused evil-link "$d" "entry 'evil/x'"
[ ! -e "$host/x" ] || fail "restore wrote $host/x on the host"

note "a node of the host's disk in /tmp's content"
d=$(copy_image "$img" img-blockdev)
disk=$(stat -c '%t %T' "$(findmnt -n -o SOURCE / 2>/dev/null || echo /dev/null)" 2>/dev/null || echo "8 0")
read -r major minor <<<"$disk"
{
  grep -v '^data_' "$E2E_TMP/tree.txt"
  printf 'entries {\n  path: "disk"\n  mode: %d\n  rdev: %d\n}\n' $((8#060666)) $(((16#$major << 8) | 16#$minor))
  grep '^data_' "$E2E_TMP/tree.txt"
} >"$E2E_TMP/tree2.txt"
"$edit" "$d" encode "$tmp_tree" <"$E2E_TMP/tree2.txt"
check_refused blockdev "$d" "entry 'disk': block device"

# --- credentials above amber's own -----------------------------------------
# A capability amber lacks (here CAP_SYS_RESOURCE, even as root), else one
# past the kernel's last.
own_bnd=$((16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)))
last=$(cat /proc/sys/kernel/cap_last_cap)
missing=""
for ((c = 0; c <= last; c++)); do
  if (((own_bnd >> c) & 1)); then :; else missing=$c; break; fi
done
[ -n "$missing" ] || missing=$((last + 1))
note "a task given capability $missing, which amber does not hold"
d=$(copy_image "$img" img-caps)
"$edit" "$d" decode tasks/1/task.img >"$E2E_TMP/task.txt"
prm=$(awk '/^ *cap_prm:/ { print $2; exit }' "$E2E_TMP/task.txt")
more=$((prm | (1 << missing)))
rewrite "$d" tasks/1/task.img "s/^\( *cap_\(prm\|eff\|bnd\)\): .*/\1: $more/"
check_refused caps "$d" "task 1: thread 1: permitted capability $missing"

note "a task whose uids are -1 (setresuid's 'unchanged': it would stay root)"
d=$(copy_image "$img" img-uid-1)
rewrite "$d" tasks/1/task.img "s/^\( *uids\): .*/\1: 4294967295/"
check_refused uid-1 "$d" "task 1: thread 1: uid -1"

note "a task with securebits the kernel does not know"
d=$(copy_image "$img" img-securebits)
rewrite "$d" tasks/1/task.img "s/^\( *cap_bnd: .*\)/\1\n    securebits: 1048576/"
check_refused securebits "$d" "task 1: thread 1: unknown securebits 0x100000"

# --- a container with a rootfs ------------------------------------------------
rootfs="$E2E_TMP/rootfs"
make_busybox_rootfs "$rootfs"
"$AMBER" run --name "$n-fs" --rootfs "$rootfs" -- /bin/sleep 1000 >/dev/null
wait_until 5 eval '[ "$(cat /proc/$(init_pid "$n-fs")/comm)" = sleep ]'
img_fs="$E2E_TMP/img-fs"
"$AMBER" dump "$n-fs" -D "$img_fs" >/dev/null
rootfs_before=$(cd "$rootfs" && find . | sort)

note "a rootfs reached through a symlink"
ln -s "$rootfs" "$E2E_TMP/rootfs-link"
d=$(copy_image "$img_fs" img-rootfs-link)
rewrite "$d" container.img "s|^rootfs: .*|rootfs: \"$E2E_TMP/rootfs-link\"|"
check_refused rootfs-link "$d" "reached through a symlink"
ln -s "$E2E_TMP" "$E2E_TMP/parent-link"
d=$(copy_image "$img_fs" img-rootfs-parent-link)
rewrite "$d" container.img "s|^rootfs: .*|rootfs: \"$E2E_TMP/parent-link/rootfs\"|"
check_refused rootfs-parent-link "$d" "reached through a symlink"
d=$(copy_image "$img_fs" img-rootfs-dotdot)
rewrite "$d" container.img "s|^rootfs: .*|rootfs: \"$rootfs/bin/..\"|"
check_refused rootfs-dotdot "$d" "'..'"

note "the host's / as the rootfs"
d=$(copy_image "$img_fs" img-rootfs-slash)
rewrite "$d" container.img 's|^rootfs: .*|rootfs: "/"|'
check_refused rootfs-slash "$d" "the host's root"

note "a rootfs that is a file"
d=$(copy_image "$img_fs" img-rootfs-file)
rewrite "$d" container.img "s|^rootfs: .*|rootfs: \"$rootfs/bin/busybox\"|"
check_refused rootfs-file "$d" "is not a directory"
assert_eq "$rootfs_before" "$(cd "$rootfs" && find . | sort)" "the rootfs after the refused restores"

note "the good images still restore"
"$AMBER" restore -D "$img" --name "$n-ok" >/dev/null
proc_alive "$(init_pid "$n-ok")" || fail "restore of the good image"
assert_eq kept "$(cat "/proc/$(init_pid "$n-ok")/root/tmp/kept")" "/tmp content after the restore"
"$AMBER" restore -D "$img_fs" --name "$n-fs-ok" >/dev/null
proc_alive "$(init_pid "$n-fs-ok")" || fail "restore of the good rootfs image"
assert_eq "$rootfs_before" "$(cd "$rootfs" && find . | sort)" "the rootfs after a restore"
assert_eq "$host_before" "$(host_listing)" "the host directory at the end"
