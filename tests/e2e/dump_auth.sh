# Images are authenticated with a key of the host (src/image/auth.h): an
# image edited without the key (every xxh3 recomputed, as anyone can), page
# or tmpfs data with a byte changed, an image read with another key, and a
# key file others may read are refused with exit 2, before anything is
# created (no state directory, cgroup or task; a page chunk found bad while
# it is copied rolls the restore back). `--key FILE` shared by dump and
# restore works; AMBER_KEY_FILE names the host key (made on first use).
. "$E2E_LIB"

edit="$WORKLOADS/image_edit"
wl=$(e2e_workload memory)
n=$(e2e_name auth)
img="$E2E_TMP/img"
# 8 MiB of memory (8 page chunks) and a file in the container's tmpfs.
"$AMBER" run --name "$n" -- sh -c "echo kept > /tmp/kept; exec $wl 8" >/dev/null
wait_until 30 grep -q ready "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")

newkey() { (umask 077 && head -c 32 /dev/urandom >"$1"); }
k1="$E2E_TMP/k1" k2="$E2E_TMP/k2"
newkey "$k1"
newkey "$k2"

"$AMBER" dump "$n" -D "$img" --leave-running >/dev/null          # the host's key
"$AMBER" dump "$n" -D "$img-k1" --key "$k1" --leave-running >/dev/null
note "a key file others can read is refused before the container is touched"
cp -p "$k1" "$E2E_TMP/kg"
chmod 640 "$E2E_TMP/kg"
assert_fails 2 "key file $E2E_TMP/kg: mode 0640 gives group or others access to it" \
  "$AMBER" dump "$n" -D "$E2E_TMP/img-kg" --key "$E2E_TMP/kg"
assert_eq running "$(ps_state "$n")" "state after a refused dump"
[ ! -e "$E2E_TMP/img-kg" ] || fail "a refused dump left an image"
assert_fails 2 "mode 0640" "$AMBER" restore -D "$img-k1" --key "$E2E_TMP/kg" --name "$n-r"
assert_fails 2 "mode 0640" "$AMBER" show "$img-k1" --key "$E2E_TMP/kg"
cp -p "$k1" "$E2E_TMP/ku"
chown 1000 "$E2E_TMP/ku"
assert_fails 2 "owned by uid 1000, not by root" "$AMBER" restore -D "$img-k1" --key "$E2E_TMP/ku" --name "$n-r"
assert_fails 2 "key file $E2E_TMP/nokey: missing" "$AMBER" restore -D "$img-k1" --key "$E2E_TMP/nokey" --name "$n-r"

note "AMBER_KEY_FILE: a host key made on first use, for root only"
hk="$E2E_TMP/keys/host.key"
AMBER_KEY_FILE=$hk "$AMBER" dump "$n" -D "$img-hk" --leave-running >/dev/null
assert_eq "600 32" "$(stat -c '%a %s' "$hk")" "the new key file's mode and size"
assert_eq 700 "$(stat -c %a "$E2E_TMP/keys")" "the new key's directory mode"
AMBER_KEY_FILE=$hk "$AMBER" show "$img-hk" --verify >/dev/null
"$AMBER" kill "$n"

# Other scenarios run in parallel under the same cgroup root: count ours only.
our_cgroups() { ls "$AMBER_CGROUP_ROOT" 2>/dev/null | grep -c "^$E2E_PREFIX" || true; }
cgroups_before=$(our_cgroups)
# refused WHAT DIR MESSAGE-PART [KEY-OPTIONS...]: show --verify and restore
# exit 2 naming it, and the restore left nothing: no state directory, no
# cgroup, no task of the workload.
refused() {
  local what=$1 dir=$2 msg=$3
  shift 3
  assert_fails 2 "$msg" "$AMBER" show "$dir" --verify "$@"
  assert_fails 2 "$msg" "$AMBER" restore -D "$dir" --name "$n-r" "$@"
  assert_nothing_left "$n-r"
  assert_eq "$cgroups_before" "$(our_cgroups)" "$what: cgroups after a refused restore"
  [ -z "$(pgrep -f "$wl" || true)" ] || fail "$what: a task of the image runs: $(pgrep -af "$wl")"
}
notauth="not authenticated with this key (modified, or made with another key)"
copy_image() { cp -a "$img" "$E2E_TMP/$1" && echo "$E2E_TMP/$1"; }

note "a task file edited without the key, its inventory entry too (xxh3 and SHA-256 recomputed)"
d=$(copy_image edited)
"$edit" "$d" decode tasks/1/task.img >"$E2E_TMP/task.txt"
# The same length: the inventory's size still holds, only a key can tell.
sed -e 's|^comm: "memory"$|comm: "memorz"|' "$E2E_TMP/task.txt" >"$E2E_TMP/task2.txt"
! cmp -s "$E2E_TMP/task.txt" "$E2E_TMP/task2.txt" || fail "the edit changed nothing"
"$edit" --no-sign "$d" encode tasks/1/task.img <"$E2E_TMP/task2.txt"
refused edited "$d" "$d/inventory.img: $notauth"
note "the same task file, the inventory left as it was"
cp "$img/inventory.img" "$d/inventory.img"
refused edited-file "$d" "$d/tasks/1/task.img: $notauth"
note "the same edit signed with the key reaches the checks behind (and restores)"
"$edit" "$d" encode tasks/1/task.img <"$E2E_TMP/task2.txt"
"$AMBER" show "$d" --verify >/dev/null

note "a flipped byte in page data: found while the pages are copied, rolled back"
d=$(copy_image pages)
printf '\xff' | dd of="$d/tasks/1/pages-1.bin" bs=1 seek=$((3 << 20)) conv=notrunc 2>/dev/null
cmp -s "$d/tasks/1/pages-1.bin" "$img/tasks/1/pages-1.bin" && fail "the byte was already 0xff"
refused pages "$d" "pages-1.bin: chunk 3 (bytes 3145728..4194304) $notauth"

note "a changed byte in the tmpfs data: refused up front"
d=$(copy_image fs-data)
data=$(cd "$d" && ls -S fs/*.bin | head -1)  # /tmp's, not an empty one
printf 'K' | dd of="$d/$data" bs=1 seek=0 conv=notrunc 2>/dev/null
refused fs-data "$d" "$data: chunk 0 (bytes 0..5) $notauth"

note "another key"
refused other-key "$img" "$img/inventory.img: $notauth" --key "$k2"
refused host-key "$img-k1" "$img-k1/inventory.img: $notauth"

note "--key shared by dump and restore"
"$AMBER" show "$img-k1" --verify --key "$k1" >/dev/null
"$AMBER" restore -D "$img-k1" --key "$k1" --name "$n-k" >/dev/null
kill -USR1 "$(init_pid "$n-k")"
wait_until 30 grep -q "memory: " "$AMBER_STATE_DIR/$n-k/log"
assert_contains "$(cat "$AMBER_STATE_DIR/$n-k/log")" "memory: OK" "the restored memory"
