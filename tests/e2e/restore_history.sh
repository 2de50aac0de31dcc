# Restored containers keep their history (src/container/log_image.h): the
# log travels in the image, authenticated with the image's key. After dump
# -> kill -> restore, `amber logs` shows what the container wrote before the
# dump (over 1 MiB: two chunks), then the very next line it writes after;
# the same from a copy of the image directory (the original removed) under
# another name, and through a second generation. A changed byte of the log
# in the image is refused (exit 2), nothing left behind. The dump and
# restore summaries: text, and --json parsed by python3.
. "$E2E_LIB"

n=$(e2e_name h)
img="$E2E_TMP/img"
# A rootfs of its own: a mount another test makes on the host meanwhile
# cannot come between the dump and the restore.
root="$E2E_TMP/rootfs"
make_busybox_rootfs "$root"
# ~1.3 MiB of numbered lines, one on stderr, then a tick every 0.1 s.
"$AMBER" run --name "$n" --rootfs "$root" -- sh -c 'seq 1 200000; echo "on stderr" >&2; i=0
  while :; do i=$((i + 1)); echo "tick $i"; sleep 0.1; done' >/dev/null
wait_until 30 grep -q "^tick 5$" "$AMBER_STATE_DIR/$n/log"

last_tick() { sed -n 's/^tick \([0-9]*\)$/\1/p' "$1" | tail -1; }
# starts_with FILE PREFIX-FILE: FILE begins with every byte of PREFIX-FILE.
starts_with() { cmp -s -n "$(stat -c %s "$2")" "$1" "$2"; }
# history_kept LOGS-FILE WHAT: the log after a restore is the log at the
# dump, then the next tick and more.
history_kept() {
  local k
  k=$(last_tick "$E2E_TMP/before")
  starts_with "$1" "$E2E_TMP/before" || fail "$2: the log does not start with the log at the dump"
  assert_eq "tick $((k + 1))" "$(tail -c +$(($(stat -c %s "$E2E_TMP/before") + 1)) "$1" | head -1)" \
    "$2: the first line after the history"
  assert_eq 1 "$(grep -c "^on stderr$" "$1")" "$2: the line on stderr, once"
  assert_eq 1 "$(grep -c "^200000$" "$1")" "$2: the numbered lines, once"
}
# json_get JSON EXPR: python3's value of EXPR over the document d.
json_get() { python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

note "dump --json: the summary as one JSON object"
# A second name of the log, so its last state is there after the dump
# removed the container's state directory.
ln "$AMBER_STATE_DIR/$n/log" "$E2E_TMP/before"
run_cmd "$AMBER" dump "$n" -D "$img" --json
assert_eq 0 "$STATUS" "dump --json (stderr: $ERR)"
dump_json=$OUT
assert_nothing_left "$n"
assert_fails 2 "no container named $n" "$AMBER" logs "$n"
size=$(stat -c %s "$E2E_TMP/before")
[ "$size" -gt $((1 << 20)) ] || fail "the log holds $size bytes, not over 1 MiB"
cmp "$E2E_TMP/before" "$img/log.bin" || fail "the image's log.bin is not the log at the dump"
assert_eq "True" "$(json_get "$dump_json" 'sorted(d) == sorted(["name", "dir", "processes", "threads", "image_bytes",
  "total_ms", "frozen_ms"])')" "the dump summary's keys: $dump_json"
assert_eq "$n $img" "$(json_get "$dump_json" 'd["name"] + " " + d["dir"]')" "name and dir in $dump_json"
assert_eq "True" "$(json_get "$dump_json" '1 <= d["processes"] <= d["threads"] and 0 < d["frozen_ms"] <= d["total_ms"]')" \
  "counts and times in $dump_json"
files_bytes=$(find "$img" -type f ! -name inventory.img -printf '%s\n' | awk '{ s += $1 } END { print s }')
assert_eq "$files_bytes" "$(json_get "$dump_json" 'd["image_bytes"]')" "image_bytes: every file but the inventory"
run_cmd "$AMBER" show "$img"
assert_contains "$OUT" "log: $size bytes in log.bin" "amber show: the container's log"
assert_contains "$OUT" "log-data" "amber show lists the log's file"

note "restore: the summary line, then the history and what comes after"
run_cmd "$AMBER" restore -D "$img"
assert_eq 0 "$STATUS" "restore (stderr: $ERR)"
[[ $OUT =~ ^restored\ $n\ from\ $img:\ [0-9]+\ process(es)?\ \([0-9]+\ threads?\),\ [0-9]+\.[0-9]\ MiB\ in\ [0-9]+\.[0-9]\ ms$ ]] ||
  fail "restore's summary: $OUT"
k=$(last_tick "$E2E_TMP/before")
wait_until 30 eval '"$AMBER" logs "$n" | grep -q "^tick $((k + 3))$"'
"$AMBER" logs "$n" >"$E2E_TMP/after"
history_kept "$E2E_TMP/after" "restore on the same host"

note "restore --json from a copy of the image directory, the original gone, under another name"
"$AMBER" kill "$n"
cp -a "$img" "$E2E_TMP/copy"
rm -rf "$img"
run_cmd "$AMBER" restore -D "$E2E_TMP/copy" --name "$n-2" --json
assert_eq 0 "$STATUS" "restore --json (stderr: $ERR)"
restore_json=$OUT
assert_eq "True" "$(json_get "$restore_json" 'sorted(d) == sorted(["name", "dir", "pid", "processes", "threads",
  "image_bytes", "total_ms"])')" "the restore summary's keys: $restore_json"
assert_eq "$n-2 $E2E_TMP/copy" "$(json_get "$restore_json" 'd["name"] + " " + d["dir"]')" "name and dir in $restore_json"
assert_eq "$(init_pid "$n-2")" "$(json_get "$restore_json" 'd["pid"]')" "pid: the restored init's"
assert_eq "$(json_get "$dump_json" '[d["processes"], d["threads"], d["image_bytes"]]')" \
  "$(json_get "$restore_json" '[d["processes"], d["threads"], d["image_bytes"]]')" "processes, threads, bytes as dumped"
assert_eq "True" "$(json_get "$restore_json" 'd["total_ms"] > 0')" "total_ms in $restore_json"
wait_until 30 eval '"$AMBER" logs "$n-2" | grep -q "^tick $((k + 3))$"'
"$AMBER" logs "$n-2" >"$E2E_TMP/after2"
history_kept "$E2E_TMP/after2" "restore from the copy"

note "a second generation: the restored container's log, history included, goes into its image"
"$AMBER" logs "$n-2" >"$E2E_TMP/gen2"
"$AMBER" dump "$n-2" -D "$E2E_TMP/img2" >/dev/null
"$AMBER" restore -D "$E2E_TMP/img2" >/dev/null
k2=$(last_tick "$E2E_TMP/img2/log.bin")
wait_until 30 eval '"$AMBER" logs "$n-2" | grep -q "^tick $((k2 + 1))$"'
"$AMBER" logs "$n-2" >"$E2E_TMP/after3"
starts_with "$E2E_TMP/after3" "$E2E_TMP/gen2" || fail "second generation: the log lost its beginning"
history_kept "$E2E_TMP/after3" "second generation"
"$AMBER" kill "$n-2"

note "a changed byte of the log in the image: refused (exit 2), nothing left"
cp -a "$E2E_TMP/copy" "$E2E_TMP/bad"
printf 'X' | dd of="$E2E_TMP/bad/log.bin" bs=1 seek=$(((1 << 20) + 5)) conv=notrunc 2>/dev/null
cmp -s "$E2E_TMP/bad/log.bin" "$E2E_TMP/copy/log.bin" && fail "the byte was already X"
msg="log.bin: chunk 1 (bytes 1048576..$size) not authenticated with this key"
assert_fails 2 "$msg" "$AMBER" show "$E2E_TMP/bad" --verify
assert_fails 2 "$msg" "$AMBER" restore -D "$E2E_TMP/bad" --name "$n-bad"
assert_nothing_left "$n-bad"
