#!/bin/sh
# sqlite3 with a database open, reading its commands from a FIFO that this
# shell holds open for writing and feeds with the batch files dropped into
# /tmp (batch0.sql, batch1.sql, ... in order). sqlite3's output goes to the
# container's log.
db=$1
mkfifo /tmp/sql
sqlite3 -batch "$db" </tmp/sql &
exec 3>/tmp/sql
i=0
while :; do
  if [ -e /tmp/batch$i.sql ]; then cat /tmp/batch$i.sql >&3; i=$((i + 1)); fi
  sleep 0.1
done
