# GNU make -j2 of a small C project, checkpointed mid-build: make holds its
# jobserver pipe (make 4.3; 4.4 uses a FIFO) and a pipe without writer (the
# stdin of its second job), and the recipes' shells are asleep between steps. After a
# real dump, kill and restore, the build finishes and links a program that
# runs and prints what its two objects compute.
. "$E2E_LIB"

command -v make >/dev/null || e2e_skip "no make"
command -v cc >/dev/null || e2e_skip "no C compiler"
proj="$E2E_BIN/proj"
mkdir -p "$proj"
cat >"$proj/a.c" <<'C'
int twice(int x) { return 2 * x; }
C
cat >"$proj/b.c" <<'C'
int plus_one(int x) { return x + 1; }
C
cat >"$proj/main.c" <<'C'
#include <stdio.h>
int twice(int), plus_one(int);
int main(void) { printf("built: %d\n", plus_one(twice(20))); return 0; }
C
# Each compile sleeps first so that the dump lands while both jobs of -j2
# are running; main.o waits for a job slot behind them (the jobserver).
cat >"$proj/Makefile" <<'MK'
prog: a.o b.o main.o
	cc -o $@ $^
%.o: %.c
	@echo "start $@"; sleep 3; cc -c -o $@ $<
MK

n=$(e2e_name make)
"$AMBER" run --name "$n" -- make -j2 -C "$proj" >/dev/null
wait_until 10 eval "[ \$(grep -c '^start' \"$AMBER_STATE_DIR/$n/log\") -ge 2 ]"
sleep 0.5
pid=$(init_pid "$n")
"$AMBER" dump "$n" -D "$E2E_TMP/img"
assert_nothing_left "$n" "$pid"
[ ! -e "$proj/prog" ] || fail "the build finished before the dump"
# make gives its second job a "bad stdin": a pipe whose write end it closed.
assert_contains "$("$AMBER" show "$E2E_TMP/img")" "write end closed" "make's stdin pipe without a writer"
"$AMBER" restore -D "$E2E_TMP/img" >/dev/null
wait_until 60 ps_state_is "$n" "stopped (exit 0)"
log=$(cat "$AMBER_STATE_DIR/$n/log")
assert_contains "$log" "start main.o" "make went on after the restore"
[ -x "$proj/prog" ] || fail "no program linked (log: $log)"
assert_eq "built: 41" "$("$proj/prog")" "the program built across the checkpoint"
