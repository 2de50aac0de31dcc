# A real bash script (Debian's /bin/bash, dynamically linked) with counters
# in a subshell and in the script, a four-process pipeline stopped halfway
# (lines left unread in its pipes) and background jobs: dumped (the
# container is gone), restored with the same processes; the counters go on
# from where they were, and when told to finish, the pipeline delivers every
# line exactly once (count and sum) and `wait` reports each job's own exit
# status (20 + count, 3, SIGTERM, 7).
. "$E2E_LIB"

[ -x /bin/bash ] || e2e_skip "/bin/bash is not installed"
prog="$E2E_BIN/jobs.sh"
cp "$(dirname "$E2E_LIB")/programs/jobs.sh" "$prog"

n=$(e2e_name bash)
"$AMBER" run --name "$n" -- /bin/bash "$prog" >/dev/null
pid=$(init_pid "$n")
val() { "$AMBER" exec "$n" -- cat "/tmp/$1" 2>/dev/null || echo 0; }
at_least() { [ "$(val "$1")" -ge "$2" ]; }
# The pipeline fills up to its stop points; the counters run.
wait_until 60 at_least prod 30
wait_until 60 at_least pipe 20
wait_until 30 at_least sub 5
wait_until 30 at_least main 5
assert_eq 30 "$(val prod)" "numbers produced before the dump"
assert_eq 20 "$(val pipe)" "numbers summed before the dump"
# The long-lived processes: the script, its three jobs and the four
# pipeline stages. Short-lived sleep and mv children come and go, and are
# called bash between their fork and exec: only what two looks apart agree on.
# bash_and_sed: "pid pgid sid comm" (as the container sees them) of its bash
# and sed processes; one grep over all of them (the scan must be quick; a
# process may end meanwhile).
bash_and_sed() {
  local p files=()
  for p in $(cat "$AMBER_CGROUP_ROOT/$n/cgroup.procs"); do files+=("/proc/$p/status"); done
  { grep -sHE '^(Name|NSpid|NSpgid|NSsid):' "${files[@]}" || true; } | awk '
    { i = index($0, ":"); f = substr($0, 1, i - 1); rest = substr($0, i + 1)
      j = index(rest, ":"); k = substr(rest, 1, j - 1); nv = split(substr(rest, j + 1), v, /[ \t]+/)
      val[f, k] = v[nv]; files[f] = 1 }
    END { for (f in files) if (val[f, "Name"] == "bash" || val[f, "Name"] == "sed")
            print val[f, "NSpid"], val[f, "NSpgid"], val[f, "NSsid"], val[f, "Name"] }' | sort -n
}
long_lived() {
  local a
  a=$(bash_and_sed)
  sleep 0.3
  bash_and_sed | grep -Fx -f <(echo "$a")
}
tree=$(long_lived)
note "processes before the dump:"
echo "$tree"
assert_eq 8 "$(echo "$tree" | wc -l)" "bash and sed processes"

"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
sub0=$(val sub) main0=$(val main)
note "restored: sub=$sub0 main=$main0"
assert_eq "$tree" "$(long_lived)" "processes after restore"
assert_eq 30 "$(val prod)" "numbers produced after restore"
assert_eq 20 "$(val pipe)" "numbers summed after restore"
# The counters carry on from their values, not from zero.
wait_until 30 at_least sub $((sub0 + 5))
wait_until 30 at_least main $((main0 + 5))

"$AMBER" exec "$n" -- touch /tmp/go
wait_until 120 eval 'case "$(ps_state "$n")" in stopped*) true ;; *) false ;; esac'
log=$(cat "$AMBER_STATE_DIR/$n/log")
note "log:"
echo "$log"
assert_eq "stopped (exit 0)" "$(ps_state "$n")" "the script's exit status"
c=$(echo "$log" | sed -n 's/^SUB c=\([0-9]*\)$/\1/p')
m=$(echo "$log" | sed -n 's/^MAIN m=\([0-9]*\)$/\1/p')
[ -n "$c" ] || fail "the subshell did not report its count"
[ "$c" -ge $((sub0 + 5)) ] || fail "the subshell's count went back: $c, it was $sub0 at restore"
[ "$m" -ge $((main0 + 5)) ] || fail "the script's count went back: $m, it was $main0 at restore"
assert_contains "$log" "WAIT sub=$((c % 200 + 20))" "wait status of the subshell"
assert_contains "$log" "WAIT j3=3" "wait status of the job that exits 3"
assert_contains "$log" "WAIT jt=143" "wait status of the job killed by SIGTERM"
# 2 + 4 + ... + 200: every number through the pipeline exactly once.
assert_contains "$log" "PIPE n=100 s=10100" "the pipeline's count and sum"
assert_contains "$log" "WAIT pipe=7" "wait status of the pipeline"
assert_contains "$log" "DONE" "the script's end"
assert_not_contains "$log" "FAIL" "the script's own checks"
