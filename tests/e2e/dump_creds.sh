# Credentials and seccomp filters survive a dump → kill → restore, in every
# thread: a process that dropped to uids 1000.. with a reduced capability
# set (permitted, effective, inheritable, ambient, bounding), securebits,
# no_new_privs, dumpable and a personality; a root process with two seccomp
# filters (no no_new_privs); a process that installed them as root and then
# dropped every capability (its filters can only be installed while the
# restore still holds CAP_SYS_ADMIN). /proc/PID/task/*/status must say the
# same before and after, and the workload checks itself (workloads/creds.c).
. "$E2E_LIB"

wl=$(e2e_workload creds)
ids() {  # everything status says about who each thread is
  for t in /proc/$1/task/*; do
    echo "$(awk '/^NSpid:/ { print $NF }' $t/status) $(grep -E '^(Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Seccomp_filters):' $t/status | xargs)"
  done | sort
}

for mode in caps seccomp-root seccomp-user; do
  n=$(e2e_name "$mode")
  img="$E2E_TMP/img-$mode"
  note "$mode: run"
  "$AMBER" run --name "$n" -- "$wl" "$mode" >/dev/null
  wait_until 10 grep -q "creds: READY" "$AMBER_STATE_DIR/$n/log"
  pid=$(init_pid "$n")
  wait_until 5 eval 'test "$(ls /proc/$pid/task | wc -l)" = 2'
  before=$(ids "$pid")
  case $mode in
    caps) assert_contains "$before" "Uid: 1000 1001 1002 1003" "$mode: uids before the dump"
          assert_contains "$before" "NoNewPrivs: 1" "$mode: no_new_privs before the dump" ;;
    *) assert_contains "$before" "Seccomp: 2 Seccomp_filters: 2" "$mode: filters before the dump" ;;
  esac
  note "$mode: dump"
  "$AMBER" dump "$n" -D "$img"
  assert_nothing_left "$n" "$pid"
  note "$mode: restore"
  "$AMBER" restore -D "$img" >/dev/null
  pid2=$(init_pid "$n")
  proc_alive "$pid2" || fail "$mode: restored task died: $(cat "$AMBER_STATE_DIR/$n/log")"
  assert_eq "$before" "$(ids "$pid2")" "$mode: credentials of every thread after restore"
  kill -USR1 "$pid2"
  wait_until 10 ps_state_is "$n" "stopped (exit 0)"
  assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "creds: OK mode=$mode" "$mode: workload verdict"
  "$AMBER" kill "$n"
done
