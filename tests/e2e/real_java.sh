# A real JVM (Debian's OpenJDK 17, /usr/bin/java) computing in worker threads
# beside its own JIT compiler, G1 GC and service threads: dumped (the
# container is gone), restored with the same threads; the workers go on
# from where they were and every result they check stays right, the GC goes
# on collecting (its log file continues with the next GC number), and when
# told to stop the JVM checks its workers' last states and exits 0. Run
# twice: without perf data, and with it (the default: /tmp/hsperfdata_root/1
# mapped MAP_SHARED, which must still be the file the JVM writes into after
# restore, as jstat would read it).
. "$E2E_LIB"

java=/usr/bin/java
javac=/usr/bin/javac
py=/usr/bin/python3
[ -x "$java" ] && [ -x "$javac" ] || e2e_skip "no JDK (scripts/setup.sh installs openjdk-17-jdk-headless)"
[ -x "$py" ] || e2e_skip "$py is not installed (scripts/setup.sh installs python3)"
programs=$(dirname "$E2E_LIB")/programs
# The container's /tmp is its own: the classes go where it sees them.
mkdir "$E2E_BIN/classes"
# (C1 only and the serial GC: javac is a short run, this halves its time.)
"$javac" -J-XX:TieredStopAtLevel=1 -J-XX:+UseSerialGC -d "$E2E_BIN/classes" "$programs/Workers.java"
workers=3

# last_progress LOG: "rounds errors" of the last PROGRESS line (0 0 if none).
last_progress() { awk '$1 == "PROGRESS" { r = $2; e = $3 } END { print (r ? r : 0), (e ? e : 0) }' "$1"; }
rounds_at_least() { [ "$(last_progress "$1" | cut -d' ' -f1)" -ge "$2" ]; }
# gc_ids GCLOG: the distinct GC numbers in a -Xlog:gc file, in order.
gc_ids() { grep -o 'GC([0-9]*)' "$1" | tr -dc '0-9\n' | uniq; }
gcs_at_least() { [ "$(gc_ids "$1" | wc -l)" -ge "$2" ]; }
# thread_names PID: "tid name" of every thread of a JVM, tids as the container sees them.
# One grep for all of them (a JVM has two dozen threads; a thread may end meanwhile).
thread_names() {
  { grep -sHE '^(Name|NSpid):' /proc/$1/task/*/status || true; } | awk '
    { i = index($0, ":"); f = substr($0, 1, i - 1); rest = substr($0, i + 1)
      j = index(rest, ":"); k = substr(rest, 1, j - 1); v = substr(rest, j + 1); sub(/^[ \t]+/, "", v)
      if (k == "NSpid") { nv = split(v, w, /[ \t]+/); v = w[nv] }
      val[f, k] = v; files[f] = 1 }
    END { for (f in files) print val[f, "NSpid"], val[f, "Name"] }' | sort -n
}
# perf_counter NAME COUNTER: a counter of the JVM's perf data file, read inside the container.
perf_counter() {
  "$AMBER" exec "$1" -- cat /tmp/hsperfdata_root/1 >"$E2E_TMP/hsperf"
  "$py" "$programs/hsperf.py" "$E2E_TMP/hsperf" "$2"
}

# Both JVMs start at once (their start-up is most of the time).
for variant in noperf perf; do
  note "$variant: run"
  # Compiler threads are started and stopped with the JIT's load (dynamic
  # number, JDK 11+): one that ends by itself between the dump and the check
  # is no loss, so their number is fixed here (seen under heavy load).
  opts=(-Xmx64m -XX:+UseG1GC -XX:-UseDynamicNumberOfCompilerThreads "-Xlog:gc:file=$E2E_BIN/gc-$variant.log")
  [ "$variant" = noperf ] && opts+=(-XX:-UsePerfData)
  "$AMBER" run --name "$(e2e_name "$variant")" -- "$java" "${opts[@]}" -cp "$E2E_BIN/classes" Workers "$workers" \
    /tmp/stop >/dev/null
done

for variant in noperf perf; do
  n=$(e2e_name "$variant")
  log="$AMBER_STATE_DIR/$n/log"
  gclog="$E2E_BIN/gc-$variant.log"
  pid=$(init_pid "$n")
  wait_until 120 grep -q "^READY $workers" "$log"
  wait_until 60 rounds_at_least "$log" 2000
  wait_until 60 gcs_at_least "$gclog" 3
  names=$(thread_names "$pid")
  for t in "C2 CompilerThre" "C1 CompilerThre" "GC Thread#0" "G1 Conc#0" "VM Thread" "worker-0" "worker-$((workers - 1))"; do
    grep -q " $t\$" <<<"$names" || fail "$variant: no JVM thread '$t' in: $names"
  done
  # The workers' tids, and every thread the JVM started at boot, stay.
  wtids=$(echo "$names" | grep ' worker-')
  if [ "$variant" = perf ]; then
    grep -q ' rw-s .* /tmp/hsperfdata_root/1$' "/proc/$pid/maps" || fail "perf: no shared mapping of the perf data file"
    perf0=$(perf_counter "$n" sun.gc.collector.0.invocations)
    note "perf: young collections counted in the perf data: $perf0"
  else
    ! grep -q hsperfdata "/proc/$pid/maps" || fail "noperf: the JVM maps a perf data file"
  fi

  # The log goes with the container: what it said last before the dump.
  cp "$log" "$E2E_TMP/log-before"
  read -r rounds0 errors0 <<<"$(last_progress "$E2E_TMP/log-before")"
  assert_eq 0 "$errors0" "$variant: errors before the dump"
  ! grep -q '^ERROR' "$log" || fail "$variant: a worker got a wrong result: $(grep '^ERROR' "$log" | head -3)"
  note "$variant: dump ($(echo "$names" | wc -l) threads, $rounds0 rounds so far)"
  "$AMBER" dump "$n" -D "$E2E_TMP/img-$variant"
  assert_nothing_left "$n" "$pid"
  gcs0=$(gc_ids "$gclog" | wc -l)
  note "$variant: $gcs0 GCs before the dump"

  note "$variant: restore"
  "$AMBER" restore -D "$E2E_TMP/img-$variant" >/dev/null
  pid2=$(init_pid "$n")
  after=$(thread_names "$pid2")
  assert_eq "$wtids" "$(echo "$after" | grep ' worker-')" "$variant: worker threads after restore"
  for t in "C2 CompilerThre" "C1 CompilerThre" "GC Thread#0" "G1 Conc#0" "VM Thread"; do
    grep -q " $t\$" <<<"$after" || fail "$variant: no JVM thread '$t' after restore: $after"
  done
  # Workers carry on from their counts (never back to zero), the GC collects on.
  wait_until 60 rounds_at_least "$log" $((rounds0 + 50000))
  wait_until 60 gcs_at_least "$gclog" $((gcs0 + 3))
  # What the JVM printed since the restore (the log may start again or go on).
  size0=$(stat -c %s "$E2E_TMP/log-before")
  if cmp -s -n "$size0" "$E2E_TMP/log-before" "$log"; then since=$(tail -c +$((size0 + 1)) "$log"); else since=$(cat "$log"); fi
  echo "$since" | awk -v r0="$rounds0" '$1 == "PROGRESS" { if ($2 < r0 || $2 < last) { print; bad = 1 } last = $2 }
    END { exit bad }' || fail "$variant: progress went back after restore (it was $rounds0): $since"
  ids=$(gc_ids "$gclog")
  assert_eq "$(seq 0 $(($(echo "$ids" | wc -l) - 1)))" "$ids" "$variant: GC numbers in the GC log (each once, none missing)"
  if [ "$variant" = perf ]; then
    grep -q ' rw-s .* /tmp/hsperfdata_root/1$' "/proc/$pid2/maps" || fail "perf: no shared mapping of the perf data file after restore"
    perf1=$(perf_counter "$n" sun.gc.collector.0.invocations)
    [ "$perf1" -ge "$perf0" ] || fail "perf: the perf data went back: $perf1 collections, $perf0 before"
    wait_until 60 eval '[ "$(perf_counter "$n" sun.gc.collector.0.invocations)" -gt "$perf1" ]'
    note "perf: the JVM keeps counting in its perf data: $perf1, then more"
  fi

  "$AMBER" exec "$n" -- touch /tmp/stop
  wait_until 60 eval 'case "$(ps_state "$n")" in stopped*) true ;; *) false ;; esac'
  final=$(grep '^FINAL' "$log" || true)
  note "$variant: $final"
  assert_contains "$final" "FINAL OK" "$variant: the JVM's own check"
  assert_eq "stopped (exit 0)" "$(ps_state "$n")" "$variant: the JVM's exit status"
  ! grep -q '^ERROR' "$log" || fail "$variant: a worker got a wrong result: $(grep '^ERROR' "$log" | head -3)"
done
