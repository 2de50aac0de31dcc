# A real perl (Debian's /usr/bin/perl with Digest::MD5) holding a hash of
# 500,000 entries (about 150 MB): dumped (the container is gone), restored,
# and asked on SIGUSR1 to walk the whole hash again; the checksum it
# computes after restore must be the one it computed when it built it.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/programs/checksum_roundtrip.bash"

pl=/usr/bin/perl
[ -x "$pl" ] || e2e_skip "$pl is not installed (scripts/setup.sh installs perl)"
"$pl" -MDigest::MD5 -e 1 2>/dev/null || e2e_skip "perl has no Digest::MD5 (scripts/setup.sh installs perl)"
prog="$E2E_BIN/bighash.pl"
cp "$(dirname "$E2E_LIB")/programs/bighash.pl" "$prog"
checksum_roundtrip perl "$pl" "$prog" 500000 100000
