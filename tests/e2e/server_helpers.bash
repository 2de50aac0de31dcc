# Helpers for the real-server scenarios (real_postgres.sh, real_nginx.sh,
# real_memcached.sh), sourced after lib.sh:
#   . "$(dirname "$E2E_LIB")/server_helpers.bash"
# Not a scenario itself (only *.sh files are).
#
# Each scenario runs a server in a --net veth container with clients that
# hold their connections across dump -> kill -> restore: clients inside the
# container (both ends dumped) and one on the host, over the veth (its end
# stays on the host). Every client is told when to go on by a line written
# to a FIFO (GO); until then it sends and reads nothing: amber has no
# network lock yet, and a segment the host sent while the container was
# gone would be answered by a RST from the restored namespace, or data the
# kernel acknowledged after the dump read the queues would be lost. The
# host talks only to the container's own address, every wait is bounded,
# and the server's ports are in the container's namespace (no host port).

# The host side of these scenarios needs ip (the container's address) and
# python3 (the clients).
command -v ip >/dev/null || e2e_skip "ip (iproute2) is not installed"
command -v python3 >/dev/null || e2e_skip "python3 is not installed"

# srv_addr NAME: the container's address on its veth.
srv_addr() {
  "$AMBER" exec "$1" -- ip -o -4 addr show dev eth0 | awk '{ print $4 }' | cut -d/ -f1
}

# srv_wait_port ADDR PORT: a TCP connection to ADDR:PORT from the host is
# accepted (tries for 30 s).
srv_wait_port() {
  wait_until 30 python3 -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)' "$1" "$2"
}

# srv_prog FILE: tests/e2e/programs/FILE copied where containers see it.
srv_prog() {
  cp "$(dirname "$E2E_LIB")/programs/$1" "$E2E_BIN/$1"
  echo "$E2E_BIN/$1"
}

# srv_host_client PROG HOST PORT ARGS...: python3 PROG HOST PORT GO ARGS...
# on the host, GO the FIFO $E2E_TMP/go-host, output in $E2E_TMP/host.out;
# sets HOST_CLIENT to its pid.
srv_host_client() {
  local prog=$1 host=$2 port=$3
  shift 3
  rm -f "$E2E_TMP/go-host"
  mkfifo "$E2E_TMP/go-host"
  timeout 300 python3 "$prog" "$host" "$port" "$E2E_TMP/go-host" "$@" >"$E2E_TMP/host.out" 2>&1 &
  HOST_CLIENT=$!
  e2e_track "$HOST_CLIENT"
}

# srv_inner_client NAME TAG PROG ARGS...: python3 PROG ARGS... inside the
# container (amber exec -d), GO the FIFO /tmp/go-TAG there (appended as the
# argument after the first two), output in /tmp/TAG.out there.
srv_inner_client() {
  local name=$1 tag=$2 prog=$3 host=$4 port=$5
  shift 5
  "$AMBER" exec -d "$name" -- sh -c "mkfifo /tmp/go-$tag && exec python3 $prog $host $port /tmp/go-$tag $* \
    >/tmp/$tag.out 2>&1" >/dev/null
}

# srv_file NAME PATH: PATH of the container's own tree (its /tmp), read
# from the host.
srv_file() { cat "/proc/$(init_pid "$1")/root$2" 2>/dev/null; }

# srv_go_host / srv_go_inner NAME TAG: the client may go on.
srv_go_host() { timeout 20 sh -c "echo go >'$E2E_TMP/go-host'" || fail "the host client is not waiting: $(cat "$E2E_TMP/host.out")"; }
srv_go_inner() { timeout 20 "$AMBER" exec "$1" -- sh -c "echo go >/tmp/go-$2" || fail "the client $2 in $1 is not waiting"; }

# srv_host_verdict WORD: the host client finished and said "WORD: OK".
srv_host_verdict() {
  wait "$HOST_CLIENT" || fail "the host client failed: $(cat "$E2E_TMP/host.out")"
  assert_contains "$(cat "$E2E_TMP/host.out")" "$1: OK" "the host client's verdict"
}

# srv_inner_verdict NAME TAG WORD: the client TAG in NAME wrote something
# after its READY line, and it is "WORD: OK".
srv_inner_verdict() {
  wait_until 60 eval "[ \"\$(srv_file '$1' /tmp/$2.out | grep -vc READY)\" -gt 0 ]"
  sleep 0.2  # a failure's traceback is written in several pieces
  assert_contains "$(srv_file "$1" "/tmp/$2.out")" "$3: OK" "the verdict of client $2 in $1"
}

# srv_dump_restore NAME WORD: dump -> kill -> restore of NAME while the
# host client (its verdict word WORD) holds its connection: the network lock
# keeps it across (a refusal fails the scenario).
srv_dump_restore() {
  local name=$1 pid
  pid=$(init_pid "$name")
  run_cmd "$AMBER" dump "$name" -D "$E2E_TMP/img"
  [ "$STATUS" = 0 ] || fail "amber dump $name: exit $STATUS: $ERR"
  assert_nothing_left "$name" "$pid"
  "$AMBER" restore -D "$E2E_TMP/img" >/dev/null
}

# srv_go_on NAME WORD: after the restore, the client "inner" in NAME, then
# the host client, go on and say "WORD: OK".
srv_go_on() {
  srv_go_inner "$1" inner
  srv_inner_verdict "$1" inner "$2"
  srv_go_host
  srv_host_verdict "$2"
}
