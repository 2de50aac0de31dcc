# Corrupt, truncated and missing images are refused before anything is
# created (exit 2, one line naming the file); an existing image directory is
# refused by dump and the container keeps running.
. "$E2E_LIB"

n=$(e2e_name bad)
img="$E2E_TMP/img"
"$AMBER" run --name "$n" -- sleep 1000 >/dev/null
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
check_refused() {  # WHAT DIR MESSAGE-PART
  assert_fails 2 "$3" "$AMBER" restore -D "$2" --name "$n-r"
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
note "the good image still restores"
"$AMBER" restore -D "$img" --name "$n-ok" >/dev/null
proc_alive "$(init_pid "$n-ok")" || fail "restore of the good image"
