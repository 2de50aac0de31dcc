# uts and ipc namespaces declared external:
# - amber run --uts host --ipc host: both are the host's (leaks, class 1);
#   dumped with --external uts --external ipc (nothing of them in the
#   image), restored with --external uts:PID --external ipc:PATH into the
#   host's again: the host's hostname is the container's, nothing was set;
# - a container's own uts namespace an outside task joined (nsenter):
#   dumped with --external uts, restored into that task's namespace
#   (--external uts:PID), its hostname the one the container had;
# - an external ipc namespace whose objects a task uses (a POSIX message
#   queue fd) is refused by name (exit 4), the container runs on.
. "$E2E_LIB"

command -v nsenter >/dev/null || e2e_skip "nsenter (util-linux) is not installed"
py=/usr/bin/python3

note "--uts host --ipc host"
n=$(e2e_name host)
"$AMBER" run --uts host --ipc host --name "$n" -- sleep 1000 >/dev/null
pid=$(init_pid "$n")
for t in uts ipc; do
  assert_eq "$(readlink /proc/self/ns/$t)" "$(readlink /proc/$pid/ns/$t)" "--$t host: the host's $t namespace"
done
assert_ne "$(readlink /proc/self/ns/net)" "$(readlink /proc/$pid/ns/net)" "its net namespace is its own"
assert_fails 2 "--hostname needs a uts namespace of its own" "$AMBER" run --uts host --hostname x -- true
run_cmd "$AMBER" check "$n"
assert_eq 3 "$STATUS" "check of a container sharing the host's uts and ipc"
assert_contains "$OUT" "uts namespace" "the uts leak"
assert_contains "$OUT" "ipc namespace" "the ipc leak"
img="$E2E_TMP/img"
"$AMBER" dump "$n" -D "$img" --external uts --external ipc >/dev/null
assert_nothing_left "$n" "$pid"
show=$("$AMBER" show "$img")
assert_contains "$show" "ipc: amber restore needs --external ipc:PATH|PID" "show lists ipc"
assert_contains "$show" "uts: amber restore needs --external uts:PATH|PID" "show lists uts"
assert_fails 2 "the image needs external ipc" "$AMBER" restore -D "$img" --external "uts:$$"
assert_fails 2 "the image needs external uts" "$AMBER" restore -D "$img" --external "ipc:$$"
assert_fails 2 "is not a uts namespace" "$AMBER" restore -D "$img" --external "uts:/proc/$$/ns/ipc" --external "ipc:$$"
assert_nothing_left "$n"
"$AMBER" restore -D "$img" --external "uts:$$" --external "ipc=/proc/$$/ns/ipc" >/dev/null
pid=$(init_pid "$n")
for t in uts ipc; do
  assert_eq "$(readlink /proc/self/ns/$t)" "$(readlink /proc/$pid/ns/$t)" "restored into the host's $t namespace"
done
assert_eq "$(hostname)" "$(nsenter -t "$pid" -u hostname)" "the host's hostname, untouched"
ps_state_is "$n" running || fail "not running after the restore"

note "the container's own uts namespace, joined from outside"
m=$(e2e_name own)
"$AMBER" run --hostname amber-ext-uts --name "$m" -- sleep 1000 >/dev/null
mpid=$(init_pid "$m")
nsenter -t "$mpid" -u sleep 1000 &
out=$!
e2e_track "$out"
wait_until 5 eval 'test "$(readlink /proc/$out/ns/uts)" = "$(readlink /proc/$mpid/ns/uts)"'
"$AMBER" dump "$m" -D "$E2E_TMP/img2" --external uts >/dev/null
"$AMBER" restore -D "$E2E_TMP/img2" --external "uts:$out" >/dev/null
mpid=$(init_pid "$m")
assert_eq "$(readlink /proc/$out/ns/uts)" "$(readlink /proc/$mpid/ns/uts)" "restored into the outside task's namespace"
assert_eq amber-ext-uts "$(nsenter -t "$mpid" -u hostname)" "its hostname"

note "an external ipc namespace in use is refused by name"
k=$(e2e_name mq)
"$AMBER" run --ipc host --name "$k" -- "$(e2e_workload mqfd)" >/dev/null
# The workload's queue is the host's: removed however the scenario ends.
if [ -x "$py" ]; then
  trap 'rc=$?; "$py" -c "import ctypes; ctypes.CDLL(\"librt.so.1\").mq_unlink(b\"/amber_mqfd\")"; (exit $rc); e2e_cleanup' EXIT
fi
wait_until 10 grep -q "mqfd: READY" "$AMBER_STATE_DIR/$k/log"
run_cmd "$AMBER" dump "$k" -D "$E2E_TMP/img3" --external ipc
assert_eq 4 "$STATUS" "dump of a container using the external ipc namespace ($ERR)"
assert_contains "$ERR" "POSIX message queue of the container's external ipc namespace: not supported" "refusal"
[ ! -e "$E2E_TMP/img3" ] || fail "a refused dump left an image"
assert_held_nothing "$k"
