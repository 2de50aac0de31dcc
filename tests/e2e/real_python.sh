# A real python3 (Debian's /usr/bin/python3, dynamically linked, its own
# allocator) holding a dict of about 200 MB: dumped (the container is gone),
# restored, and asked on SIGUSR1 to walk the whole dict again; the checksum
# it computes after restore must be the one it computed when it built it.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/programs/checksum_roundtrip.bash"

py=/usr/bin/python3
[ -x "$py" ] || e2e_skip "$py is not installed (scripts/setup.sh installs python3)"
prog="$E2E_BIN/bigdict.py"
cp "$(dirname "$E2E_LIB")/programs/bigdict.py" "$prog"
checksum_roundtrip python3 "$py" "$prog" 400000 200000
