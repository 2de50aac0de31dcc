# Locked and droppable memory (issue 11): mlock, MAP_LOCKED, mlock2
# MLOCK_ONFAULT, MAP_DROPPABLE and mlockall(MCL_FUTURE [| MCL_ONFAULT]) after
# a real dump, kill and restore. VmLck and the VmFlags of every area are
# compared from outside; the workload checks contents (droppable: empty) and
# that a new mapping is still locked (mm->def_flags).
. "$E2E_LIB"

wl=$(e2e_workload memlock)

# "START-END lo lf dp" (those of the three it has) of every area that has
# one, and VmLck: what this scenario compares. Neighbours with the same
# three flags are one range (the kernel merges some areas when they are
# mapped again, as verify_mm allows).
mem_state() {
  awk '/^[0-9a-f]+-[0-9a-f]+ / { split($1, r, "-") }
       /^VmFlags:/ { f = ""; for (i = 2; i <= NF; i++) if ($i == "lo" || $i == "lf" || $i == "dp") f = f " " $i
                     if (f == "") next
                     if (f == pf && r[1] == pe) { pe = r[2]; next }
                     if (pf != "") print ps "-" pe pf
                     ps = r[1]; pe = r[2]; pf = f }
       END { if (pf != "") print ps "-" pe pf }' "/proc/$1/smaps"
  grep '^VmLck:' "/proc/$1/status"
}

for mode in onfault future; do
  n=$(e2e_name "$mode")
  "$AMBER" run --name "$n" -- "$wl" "$mode" >/dev/null
  wait_until 10 grep -q "memlock: READY" "$AMBER_STATE_DIR/$n/log"
  pid=$(init_pid "$n")
  before=$(mem_state "$pid")
  [ "$mode" = future ] || assert_contains "$before" " lo lf" "$mode: the workload has a lock-on-fault area"
  assert_contains "$before" " dp" "$mode: the workload has a droppable area"
  note "$mode: dump"
  "$AMBER" dump "$n" -D "$E2E_TMP/img-$mode"
  assert_nothing_left "$n" "$pid"
  note "$mode: restore"
  "$AMBER" restore -D "$E2E_TMP/img-$mode" >/dev/null
  pid2=$(init_pid "$n")
  assert_eq "$before" "$(mem_state "$pid2")" "$mode: VmFlags and VmLck after restore"
  kill -USR1 "$pid2"
  wait_until 10 eval 'case "$(ps_state "$n")" in stopped*) true ;; *) false ;; esac'
  assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "memlock: OK mode=$mode" "$mode: workload verdict"
  assert_eq "stopped (exit 0)" "$(ps_state "$n")" "$mode: exit status"
  "$AMBER" kill "$n"
done
