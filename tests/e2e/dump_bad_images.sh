# Corrupt, truncated and missing images are refused before anything is
# created (exit 2, one line naming the file); an existing image directory is
# refused by dump and the container keeps running. `amber show --verify`
# refuses every such image too: it runs the checks restore runs first.
# Images whose headers and inventory are intact but whose content is wrong
# are made with the image_edit tool (tests/e2e/tools/image_edit.cpp).
. "$E2E_LIB"

edit="$WORKLOADS/image_edit"
n=$(e2e_name bad)
img="$E2E_TMP/img"
# Something in /tmp: the image then holds a tmpfs tree with file data.
"$AMBER" run --name "$n" -- sh -c 'echo kept > /tmp/kept; exec sleep 1000' >/dev/null
wait_until 5 eval 'grep -q kept "/proc/$(init_pid "$n")/root/tmp/kept"'
"$AMBER" dump "$n" -D "$img" --leave-running
pid=$(init_pid "$n")
proc_alive "$pid" || fail "--leave-running: the container is not running"
assert_eq running "$(ps_state "$n")" "state after dump --leave-running"
assert_fails 2 "exists" "$AMBER" dump "$n" -D "$img"
assert_eq running "$(ps_state "$n")" "state after a refused dump"
assert_fails 2 "already exists" "$AMBER" restore -D "$img"  # the name is taken
"$AMBER" kill "$n"

# Other scenarios run in parallel under the same cgroup root: count ours only.
our_cgroups() { ls "$AMBER_CGROUP_ROOT" 2>/dev/null | grep -c "^$E2E_PREFIX" || true; }
cgroups_before=$(our_cgroups)
check_refused() {  # WHAT DIR MESSAGE-PART [STATUS, default 2]
  assert_fails "${4:-2}" "$3" "$AMBER" show "$2" --verify
  assert_fails "${4:-2}" "$3" "$AMBER" restore -D "$2" --name "$n-r"
  assert_nothing_left "$n-r"
  assert_eq "$cgroups_before" "$(our_cgroups)" "$1: cgroups after a refused restore"
}
note "missing directory"
check_refused missing "$E2E_TMP/nosuch" "nosuch"
note "truncated page data"
cp -a "$img" "$E2E_TMP/trunc"
data=$(ls "$E2E_TMP"/trunc/tasks/*/pages-*.bin | head -1)
truncate -s -4096 "$data"
check_refused truncated "$E2E_TMP/trunc" "pages-"
note "corrupt metadata"
cp -a "$img" "$E2E_TMP/corrupt"
f="$E2E_TMP/corrupt/container.img"
printf '\xff' | dd of="$f" bs=1 seek=$(($(stat -c %s "$f") - 3)) conv=notrunc 2>/dev/null
check_refused corrupt "$E2E_TMP/corrupt" "container.img"
note "corrupt page data"
cp -a "$img" "$E2E_TMP/corrupt-pages"
data=$(ls "$E2E_TMP"/corrupt-pages/tasks/*/pages-*.bin | head -1)
printf '\xff\xfe' | dd of="$data" bs=1 seek=100 conv=notrunc 2>/dev/null
check_refused corrupt-pages "$E2E_TMP/corrupt-pages" "pages-"
# copy_image NAME: a copy of the good image to mutate, on stdout its path.
copy_image() { cp -a "$img" "$E2E_TMP/$1" && echo "$E2E_TMP/$1"; }
# rewrite DIR RELPATH SED-SCRIPT: edits a metadata file as protobuf text.
rewrite() {
  "$edit" "$1" decode "$2" > "$E2E_TMP/msg.txt"
  sed -e "$3" "$E2E_TMP/msg.txt" > "$E2E_TMP/msg2.txt"
  ! cmp -s "$E2E_TMP/msg.txt" "$E2E_TMP/msg2.txt" || fail "rewrite $2: '$3' changed nothing"
  "$edit" "$1" encode "$2" < "$E2E_TMP/msg2.txt"
}
note "a tmpfs tree whose data file is missing"
d=$(copy_image fs-data)
data=$(cd "$d" && ls fs/*.bin | head -1)
[ -n "$data" ] || fail "the image has no tmpfs data file"
"$edit" "$d" drop "$data"
check_refused fs-data "$d" "$data"
note "a tmpfs tree entry beyond its data file"
d=$(copy_image fs-entry)
tree=$(cd "$d" && grep -l kept fs/*.img | head -1)
rewrite "$d" "$tree" 's/^\(  *size: \)5$/\1999999/'
check_refused fs-entry "$d" "beyond the data file"
note "a task whose cwd does not exist"
d=$(copy_image cwd)
rewrite "$d" tasks/1/task.img 's|^cwd: .*|cwd: "/nosuch-cwd"|'
check_refused cwd "$d" "task 1: cwd /nosuch-cwd: missing"
note "a task whose root does not exist"
d=$(copy_image root)
rewrite "$d" tasks/1/task.img 's|^root: .*|root: "/nosuch-root"|'
check_refused root "$d" "task 1: root /nosuch-root: missing"
note "a task whose cwd has a '..' component"
d=$(copy_image cwd-dotdot)
rewrite "$d" tasks/1/task.img 's|^cwd: .*|cwd: "/tmp/../etc"|'
check_refused cwd-dotdot "$d" "'..'"
note "a thread whose registers are cut short"
d=$(copy_image regs)
rewrite "$d" tasks/1/task.img 's/^\(  *regs: \)".*"$/\1"short"/'
check_refused regs "$d" "registers are 5 bytes"
note "a mapped file missing on this host"
d=$(copy_image mapped)
rewrite "$d" tasks/1/mm.img 's|path: "/[^"]*/libc[.-][^"]*"|path: "/nosuch/libc.so.6"|'
check_refused mapped "$d" "mapped file (area"
note "an image of a kernel whose vdso differs (exit 4: unsupported, refused up front too)"
d=$(copy_image vdso)
rewrite "$d" tasks/1/mm.img 's/^vdso_xxh3: .*/vdso_xxh3: 1/'
check_refused vdso "$d" "[vdso] code differs" 4
note "a task's page store missing"
d=$(copy_image pages-missing)
"$edit" "$d" drop tasks/1/pages-1.img tasks/1/pages-1.bin
check_refused pages-missing "$d" "pages-1.img: missing"
note "a page store truncated, its inventory entry matching"
d=$(copy_image pages-trunc)
truncate -s -4096 "$d/tasks/1/pages-1.bin"
"$edit" "$d" resize tasks/1/pages-1.bin
check_refused pages-trunc "$d" "pages-1"
note "the good image still restores"
"$AMBER" show "$img" --verify >/dev/null
"$AMBER" restore -D "$img" --name "$n-ok" >/dev/null
proc_alive "$(init_pid "$n-ok")" || fail "restore of the good image"
