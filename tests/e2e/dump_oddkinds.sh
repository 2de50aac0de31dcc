# The other file kinds, one container each (workload oddkinds MODE):
# - restored with their state: O_PATH fds of a symbolic link, a FIFO and a
#   device node; an fd of the task's own net namespace (real dump, kill,
#   restore; the workload checks itself, restore verification checks the
#   kind, file type and namespace);
# - refused by name (exit 4, one line naming the object, the container still
#   running): a pidfd of a zombie, a deleted working
#   directory, a deleted FIFO, a file lease, a shared fd table (CLONE_FILES),
#   fanotify, the aio ring.
. "$E2E_LIB"

wl=$(e2e_workload oddkinds)

start() {  # MODE: a container holding it, ready
  n=$(e2e_name "$1" | tr _ -)
  "$AMBER" run --name "$n" -- "$wl" "$1" >/dev/null
  wait_until 10 grep -q "oddkinds: READY" "$AMBER_STATE_DIR/$n/log"
  pid=$(init_pid "$n")
}

for mode in opath_symlink opath_fifo opath_dev nsfs pidfd; do
  note "$mode: restored"
  start "$mode"
  "$AMBER" dump "$n" -D "$E2E_TMP/img-$mode" >/dev/null
  assert_nothing_left "$n" "$pid"
  "$AMBER" restore -D "$E2E_TMP/img-$mode" >/dev/null
  init=$(init_pid "$n")
  case $mode in
    opath_symlink) assert_eq /tmp/link "$(readlink "/proc/$init/fd/5")" "O_PATH fd of the link" ;;
    opath_fifo) assert_eq /tmp/fifo "$(readlink "/proc/$init/fd/5")" "O_PATH fd of the FIFO" ;;
    opath_dev) assert_eq /dev/null "$(readlink "/proc/$init/fd/5")" "O_PATH fd of /dev/null" ;;
    nsfs) assert_eq "$(readlink "/proc/$init/ns/net")" "$(readlink "/proc/$init/fd/5")" "fd of its own net namespace" ;;
    pidfd) assert_contains "$(grep NSpid "/proc/$init/fdinfo/5")" "	2" "pidfd of task 2" ;;
  esac
  [ "$mode" = nsfs ] || [ "$mode" = pidfd ] || assert_contains "$(grep flags "/proc/$init/fdinfo/5")" "10" "O_PATH kept"
  kill -USR1 "$init"
  wait_until 10 ps_state_is "$n" "stopped (exit 0)"
  assert_contains "$(cat "$AMBER_STATE_DIR/$n/log")" "oddkinds: OK" "$mode: workload verdict"
done

refused() {  # MODE MESSAGE-PART
  note "$1: refused"
  start "$1"
  assert_fails 4 "$2" "$AMBER" dump "$n" -D "$E2E_TMP/img-$1"
  proc_alive "$pid" || fail "$1: the container is gone after the refused dump"
  [ ! -e "$E2E_TMP/img-$1" ] || fail "$1: an image was left"
  "$AMBER" kill "$n" >/dev/null
}
refused pidfd_zombie "fd 5: anon_inode:[pidfd] (pidfd of task 2, a zombie): not supported yet"
refused deleted_cwd "cwd: /tmp/gone (deleted)"
refused deleted_fifo "fd 5: /tmp/dfifo (deleted) (deleted FIFO): not supported yet"
refused lease "fd 5: /tmp/leased: a LEASE ACTIVE READ lock (file lease, F_SETLEASE): not supported yet"
refused clone_files "shares its fd table (clone(CLONE_FILES)) with task 1"
refused fanotify "fd 5: anon_inode:[fanotify] (fanotify): not supported yet"
refused aio "/[aio] (deleted) (aio ring (io_setup)): not supported yet"
