# --env, --hostname, the command's environment, amber logs, the container's
# own /tmp and network namespace (loopback up) on the host's tree.
. "$E2E_LIB"

n=$(e2e_name env)
export AMBER_E2E_SECRET=leak   # amber's own environment must not reach the container
"$AMBER" run --name "$n" --hostname box1 --env FOO=bar --env 'SPACED=a b' --env FOO=baz \
  -- sh -c 'echo "FOO=$FOO SPACED=$SPACED HOME=$HOME"; echo "to stderr" >&2; echo "PATH=$PATH";
            echo "SECRET=${AMBER_E2E_SECRET:-none}"; echo inside >/tmp/only-inside-'$$'; exec sleep 1000' >/dev/null

note "logs: stdout and stderr in one file, in order"
wait_until 5 sh -c "grep -q SECRET '$AMBER_STATE_DIR/$n/log'"
assert_eq "FOO=baz SPACED=a b HOME=/root
to stderr
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SECRET=none" "$("$AMBER" logs "$n")" "amber logs"

note "exec gets the same environment, plus its own --env"
env=$("$AMBER" exec --env EXTRA=1 "$n" -- env | sort)
for kv in EXTRA=1 FOO=baz HOME=/root "SPACED=a b" "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"; do
  grep -qxF "$kv" <<<"$env" || fail "exec env lacks $kv: $env"
done
grep -q AMBER_E2E_SECRET <<<"$env" && fail "amber's environment leaked into exec: $env"
assert_eq box1 "$("$AMBER" exec "$n" -- hostname)" "--hostname"

note "own /tmp"
assert_eq inside "$("$AMBER" exec "$n" -- cat /tmp/only-inside-$$)" "file in the container's /tmp"
[ ! -e /tmp/only-inside-$$ ] || fail "the container's /tmp is the host's"

note "own network namespace with lo up"
ifs=$("$AMBER" exec "$n" -- sh -c 'tail -n +3 /proc/net/dev' | awk -F: '{ gsub(/ /, "", $1); print $1 }' | xargs)
assert_eq lo "$ifs" "network interfaces inside"
flags=$("$AMBER" exec "$n" -- busybox ip -o link show lo)
assert_contains "$flags" ",UP" "lo flags"
"$AMBER" exec "$n" -- busybox ping -c 1 -W 2 127.0.0.1 >/dev/null || fail "cannot ping 127.0.0.1 inside"

"$AMBER" kill "$n"
assert_nothing_left "$n"
