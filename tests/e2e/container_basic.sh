# amber run / exec / ps / kill on the host's tree: the foundation issue's
# "done when" list, checked literally.
. "$E2E_LIB"

n=$(e2e_name t1)
note "run"
out=$("$AMBER" run --name "$n" -- sh -c 'while :; do date +%s >/tmp/tick; sleep 1; done')
assert_eq "$n" "$out" "amber run prints the name"
pid=$(init_pid "$n")
[ -n "$pid" ] && proc_alive "$pid" || fail "init $pid of $n is not running"
# run returns once CMD runs: the init is already the command, not amber.
assert_eq sh "$(cat /proc/$pid/comm)" "init's comm right after run"

note "the init's parent is the shim"
shim=$(awk '{ sub(/.*\) /, ""); split($0, f, " "); print f[2] }' /proc/$pid/stat)
assert_eq amber-shim "$(cat /proc/$shim/comm)" "parent of the init"
assert_eq "0 1 2" "$(ls /proc/$shim/fd | sort -n | xargs)" "shim's open fds"
for fd in 0 1 2; do assert_eq /dev/null "$(readlink /proc/$shim/fd/$fd)" "shim fd $fd"; done

note "the init's stdio"
assert_eq /dev/null "$(readlink /proc/$pid/fd/0)" "init stdin"
for fd in 1 2; do
  assert_eq "$AMBER_STATE_DIR/$n/log" "$(readlink /proc/$pid/fd/$fd)" "init fd $fd"
  flags=$(awk '/^flags:/ { print $2 }' /proc/$pid/fdinfo/$fd)
  [ $((8#$flags & 8#2000)) != 0 ] || fail "init fd $fd is not O_APPEND (flags $flags)"
done
assert_eq "0 1 2" "$(ls /proc/$pid/fd | sort -n | xargs)" "init's open fds"

note "exec: /tmp/tick, hostname, cgroup namespace root, exit status"
wait_until 10 "$AMBER" exec "$n" -- test -s /tmp/tick
tick=$("$AMBER" exec "$n" -- cat /tmp/tick)
[[ "$tick" =~ ^[0-9]+$ ]] || fail "exec cat /tmp/tick printed '$tick', not a number"
assert_eq "$n" "$("$AMBER" exec "$n" -- hostname)" "hostname inside"
cg=$("$AMBER" exec "$n" -- cat /proc/self/cgroup)
grep -qx '0::/' <<<"$cg" || fail "exec cat /proc/self/cgroup has no '0::/' line: $cg"
run_cmd "$AMBER" exec "$n" -- sh -c 'exit 7'
assert_eq 7 "$STATUS" "exit status of exec sh -c 'exit 7'"
run_cmd "$AMBER" exec "$n" -- sh -c 'kill -TERM $$'
assert_eq 143 "$STATUS" "exit status of a command killed by SIGTERM"
assert_eq / "$("$AMBER" exec "$n" -- pwd)" "exec cwd"

note "namespaces differ from the host's; exec joins the init's"
for ns in pid uts ipc net mnt cgroup; do
  assert_ne "$(readlink /proc/self/ns/$ns)" "$(readlink /proc/$pid/ns/$ns)" "$ns namespace of the init"
  assert_eq "$(readlink /proc/$pid/ns/$ns)" "$("$AMBER" exec "$n" -- readlink /proc/self/ns/$ns)" \
    "$ns namespace of an exec'd command"
done
assert_eq "$(tr '\0' ' ' </proc/$pid/cmdline)" "$("$AMBER" exec "$n" -- sh -c "tr '\\0' ' ' </proc/1/cmdline")" \
  "pid 1 inside is the init"
# The exec'd command runs in the container's cgroup (seen from the host while it runs).
"$AMBER" exec "$n" -- sleep 3.$$ &
execjob=$!
wait_until 5 pgrep -fx "sleep 3.$$"
xpid=$(pgrep -fx "sleep 3.$$")
assert_eq "0::${AMBER_CGROUP_ROOT#"$E2E_V2"}/$n" "$(grep ^0:: /proc/$xpid/cgroup)" "cgroup of an exec'd command"
for ns in pid mnt net; do
  assert_eq "$(readlink /proc/$pid/ns/$ns)" "$(readlink /proc/$xpid/ns/$ns)" "$ns namespace of an exec'd command"
done
wait "$execjob" || fail "exec'd sleep failed"

note "cgroup"
cgdir="$AMBER_CGROUP_ROOT/$n"
[ -d "$cgdir" ] || fail "no cgroup $cgdir"
grep -qx "$pid" "$cgdir/cgroup.procs" || fail "init $pid not in $cgdir/cgroup.procs"
grep -q "^0::${AMBER_CGROUP_ROOT#"$E2E_V2"}/$n\$" /proc/$pid/cgroup || fail "init's cgroup: $(grep ^0:: /proc/$pid/cgroup)"

note "ps"
assert_eq running "$(ps_state "$n")" "ps STATE"
assert_eq "$pid" "$(init_pid "$n")" "ps PID"
cmd=$(ps_field "$n" COMMAND)
assert_contains "$cmd" "sh -c" "ps COMMAND"
assert_eq "NAME PID STATE COMMAND" "$("$AMBER" ps | head -1 | xargs)" "ps header"

note "state.json"
st="$AMBER_STATE_DIR/$n/state.json"
python3 - "$st" "$pid" "$shim" "$cgdir" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["name"] and s["init"]["pid"] == int(sys.argv[2]), s
assert s["shim"]["pid"] == int(sys.argv[3]), s
assert s["cgroup"] == sys.argv[4], s
stat = open(f"/proc/{sys.argv[2]}/stat").read().rsplit(")", 1)[1].split()
assert s["init"]["start_time"] == int(stat[19]), (s["init"], stat[19])
import os
for t in ("pid", "uts", "ipc", "net", "mnt", "cgroup"):
    assert s["namespaces"][t] == os.stat(f"/proc/{sys.argv[2]}/ns/{t}").st_ino, t
assert s["command"][:2] == ["sh", "-c"], s["command"]
assert s["hostname"] == s["name"] and s["rootfs"] == "" and s["created"].endswith("Z"), s
PY

note "kill"
"$AMBER" kill "$n"
assert_nothing_left "$n" "$pid" "$shim"

note "a generated name"
out=$("$AMBER" run -- sleep 1000)
[[ "$out" =~ ^amber-[0-9a-f]{6}$ ]] || fail "generated name '$out'"
"$AMBER" kill "$out"
assert_nothing_left "$out"
