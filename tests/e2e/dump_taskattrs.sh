# Per-task attributes survive dump → kill → restore (workloads/taskattrs.c):
# scheduling policy, rt priority, reset-on-fork, nice, CPU affinity, io
# priority and timer slack per thread, parent-death signal per thread (it
# fires after the restore), oom_score_adj, loginuid, THP disable, membarrier
# registrations, the child subreaper (an orphan goes to it, not to init),
# F_SETOWN/F_SETSIG with O_ASYNC (SIGIO arrives with si_fd), a SIGTRAP
# handler (also in a thread that blocks SIGTRAP), and a process in a
# job-control stop (stopped after --leave-running and after the restore,
# running again on SIGCONT). Checked from /proc here and by the workload
# itself. SIGTRAP ignored and SCHED_DEADLINE are refused (exit 4), the
# container running on untouched.
. "$E2E_LIB"

wl=$(e2e_workload taskattrs)
n=$(e2e_name attrs)
img="$E2E_TMP/img"
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "taskattrs: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")

# The processes of the container by comm (host pids).
by_comm() {
  local p
  for p in $(cat "$AMBER_CGROUP_ROOT/$n/cgroup.procs"); do
    [ "$(cat /proc/$p/comm 2>/dev/null)" = "$1" ] && echo "$p"
  done
  return 0
}
state_of() { awk '/^State:/ { print $2 }' "/proc/$1/status"; }
# Every attribute /proc shows, per thread (by its tid inside) and per process.
# Of the run state only "stopped or not": R and S come and go under load.
# Processes in the order of their pids inside: host pids need not come in
# the same order after a restore (the flake this test had).
attrs() {
  local p t
  for p in $(for q in $(cat "$AMBER_CGROUP_ROOT/$n/cgroup.procs"); do
               echo "$(awk '/^NSpid:/ { print $NF }' /proc/$q/status) $q"
             done | sort -n | awk '{ print $2 }'); do
    echo "process $(awk '/^NSpid:/ { print $NF }' /proc/$p/status) $(cat /proc/$p/comm)" \
      "oom_score_adj=$(cat /proc/$p/oom_score_adj) loginuid=$(cat /proc/$p/loginuid 2>/dev/null || echo none)" \
      "stopped=$([ "$(state_of "$p")" = T ] && echo yes || echo no) $(grep -E '^(SigCgt|SigIgn|THP_enabled)' /proc/$p/status | xargs)"
    for t in /proc/$p/task/*; do
      # stat fields after the comm: 18 priority, 19 nice, 40 rt_priority, 41 policy
      echo "  thread $(awk '/^NSpid:/ { print $NF }' $t/status) $(cat $t/comm)" \
        "$(sed 's/.*) //' $t/stat | awk '{ print "prio=" $16, "nice=" $17, "rt_priority=" $38, "policy=" $39 }')" \
        "slack=$(cat /proc/${t##*/}/timerslack_ns) stopped=$(awk '/^State:/ { print ($2 == "T") ? "yes" : "no" }' $t/status)" \
        "$(grep -E '^(Cpus_allowed_list|SigBlk)' $t/status | xargs)"
    done
  done
}

# same_attrs WANT GOT WHAT: equal, or fail showing the lines that differ.
same_attrs() {
  [ "$1" = "$2" ] || fail "$3 differ:
$(diff <(printf '%s\n' "$1") <(printf '%s\n' "$2") || true)"
}

stopped=$(by_comm ta-stopped)
[ -n "$stopped" ] || fail "no ta-stopped process"
wait_until 10 eval '[ "$(state_of '"$stopped"')" = T ]'
before=$(attrs)
echo "$before"
assert_contains "$before" "policy=3" "SCHED_BATCH set before the dump"
assert_contains "$before" "rt_priority=5 policy=2" "SCHED_RR set before the dump"
assert_contains "$before" "oom_score_adj=500" "oom_score_adj set before the dump"
assert_contains "$before" "THP_enabled: 0" "THP disabled before the dump"
[ $((0x$(awk '/^SigCgt:/ { print $2 }' /proc/$pid/status) & 0x10)) != 0 ] || fail "SIGTRAP not caught before the dump"

note "dump --leave-running: the stopped task stays stopped, nothing changes"
"$AMBER" dump "$n" -D "$E2E_TMP/img-live" --leave-running >/dev/null
assert_eq T "$(state_of "$stopped")" "ta-stopped after dump --leave-running"
same_attrs "$before" "$(attrs)" "attributes after dump --leave-running"
assert_held_nothing "$n"

note "dump"
"$AMBER" dump "$n" -D "$img" >/dev/null
assert_nothing_left "$n" "$pid"
shown=$("$AMBER" show "$img")
assert_contains "$shown" "SIGTRAP" "amber show lists the SIGTRAP handler"
assert_not_contains "$shown" "SIGTRAP -> 0x0" "amber show: SIGTRAP handler"
note "restore"
"$AMBER" restore -D "$img" >/dev/null
pid2=$(init_pid "$n")
sleep 0.3
proc_alive "$pid2" || fail "restored init died: $(cat "$AMBER_STATE_DIR/$n/log")"
after=$(attrs)
echo "$after"
same_attrs "$before" "$after" "attributes of every process and thread after restore"
stopped2=$(by_comm ta-stopped)
assert_eq T "$(state_of "$stopped2")" "ta-stopped after restore"
sleep 0.2
assert_eq T "$(state_of "$stopped2")" "ta-stopped a moment after restore"
kill -CONT "$stopped2"
kill -USR1 "$pid2"
wait_until 20 eval 'ps_state "$n" | grep -q "^stopped ("'
log=$(cat "$AMBER_STATE_DIR/$n/log")
assert_contains "$log" "taskattrs: OK" "workload verdict"
assert_eq "stopped (exit 0)" "$(ps_state "$n")" "workload exit"
"$AMBER" kill "$n"

note "SIGTRAP ignored is refused before amber runs code in the task"
n=$(e2e_name trapign)
"$AMBER" run --name "$n" -- "$wl" trapign >/dev/null
wait_until 10 grep -q "taskattrs: READY" "$AMBER_STATE_DIR/$n/log"
p=$(init_pid "$n")
ign=$(grep '^SigIgn' /proc/$p/status)
assert_fails 4 "SIGTRAP is ignored" "$AMBER" dump "$n" -D "$E2E_TMP/img-trapign"
[ ! -e "$E2E_TMP/img-trapign" ] || fail "a refused dump left an image"
assert_held_nothing "$n"
assert_eq "$ign" "$(grep '^SigIgn' /proc/$p/status)" "SigIgn after the refused dump"
"$AMBER" kill "$n"

note "SCHED_DEADLINE is refused"
n=$(e2e_name deadline)
"$AMBER" run --name "$n" -- "$wl" deadline >/dev/null
wait_until 10 grep -q "taskattrs: READY" "$AMBER_STATE_DIR/$n/log"
assert_fails 4 "scheduling policy SCHED_DEADLINE is not supported yet" "$AMBER" dump "$n" -D "$E2E_TMP/img-dl"
[ ! -e "$E2E_TMP/img-dl" ] || fail "a refused dump left an image"
assert_held_nothing "$n"
"$AMBER" kill "$n"
