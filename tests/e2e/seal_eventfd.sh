# Seal check, leak class 3 for the anon-inode kinds: an outside task holding
# the container's eventfd, timerfd or epoll (the same description, taken
# with pidfd_getfd) is a leak reported with its pid; outside eventfds,
# timerfds and epolls of their own (same anon inode, other descriptions)
# are not.
. "$E2E_LIB"

outside=$(e2e_workload outside)
wl=$(e2e_workload eventloop)
n=$(e2e_name evfd)
"$AMBER" run --name "$n" -- "$wl" >/dev/null
wait_until 10 grep -q "eventloop: READY" "$AMBER_STATE_DIR/$n/log"
pid=$(init_pid "$n")
fd_of() {  # LINK: the container init's first fd on it
  local f
  for f in /proc/$pid/fd/*; do
    if [ "$(readlink "$f")" = "$1" ]; then
      basename "$f"
      return
    fi
  done
  fail "no $1 fd in task $pid"
}

note "outside eventfds, timerfds and epolls of their own are no leak"
python3 -c 'import os, select, time
e = os.eventfd(0); p = select.epoll(); p.register(e, select.EPOLLIN)
print("ready", flush=True); time.sleep(1000)' >"$E2E_TMP/own" &
own=$!
e2e_track "$own"
wait_until 5 grep -q ready "$E2E_TMP/own"
assert_sealed "$n"
kill "$own"; wait "$own" 2>/dev/null || true

for link in 'anon_inode:[eventfd]' 'anon_inode:[timerfd]' 'anon_inode:[eventpoll]'; do
  note "the container's $link, taken with pidfd_getfd"
  fd=$(fd_of "$link")
  "$outside" getfd "$pid" "$fd" >"$E2E_TMP/ready" &
  grab=$!
  e2e_track "$grab"
  wait_until 5 grep -q ready "$E2E_TMP/ready"
  assert_leak "$n" shared-file "$grab"
  assert_contains "$OUT" "$link" "the kind is named"
  kill "$grab"; wait "$grab" 2>/dev/null || true
  : >"$E2E_TMP/ready"
done
assert_sealed "$n"
"$AMBER" kill "$n" >/dev/null
