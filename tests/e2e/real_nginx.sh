# A real nginx 1.22 (Debian's: a master and a worker, epoll, sendfile, a
# nonblocking socketpair between them) in a --net veth container serving
# files, with HTTP/1.1 clients (programs/http_client.py) holding keep-alive
# connections across dump -> kill -> restore: one inside the container over
# 127.0.0.1, one on the host over the veth. Each has one connection idle on
# its keep-alive and one in the middle of an 8 MiB response (the rest in
# the server's socket and sendfile position); after the restore each reads
# the rest and asks again on both connections, every body compared with the
# file. Then a new connection from the host. See server_helpers.bash for why
# the clients are quiet during the dump.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/server_helpers.bash"

nginx=/usr/sbin/nginx
[ -x "$nginx" ] || e2e_skip "$nginx is not installed (scripts/setup.sh installs nginx)"
client=$(srv_prog http_client.py)

# The worker runs as nobody: the files must be reachable.
chmod 711 "$E2E_BIN"
www="$E2E_BIN/www"
mkdir -m 755 "$www"
echo "small file of $(basename "$0")" >"$www/small.txt"
head -c 8M /dev/urandom >"$www/big.bin"
chmod 644 "$www"/*
# Everything nginx writes goes to the container's /tmp or its log.
cat >"$E2E_BIN/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid /tmp/nginx.pid;
error_log stderr notice;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path /tmp/nginx-body;
  proxy_temp_path /tmp/nginx-proxy;
  fastcgi_temp_path /tmp/nginx-fastcgi;
  uwsgi_temp_path /tmp/nginx-uwsgi;
  scgi_temp_path /tmp/nginx-scgi;
  keepalive_timeout 600s;
  sendfile on;
  server {
    listen 8080;
    root $www;
  }
}
EOF

n=$(e2e_name ngx)
"$AMBER" run --name "$n" --net veth -- "$nginx" -c "$E2E_BIN/nginx.conf" >/dev/null
addr=$(srv_addr "$n")
[ -n "$addr" ] || fail "no address on the container's eth0"
fetch() { timeout 30 python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "$1"; }
wait_until 30 fetch "http://$addr:8080/small.txt"

note "clients inside and on the host, each with an idle keep-alive and a response half read"
srv_inner_client "$n" inner "$client" 127.0.0.1 8080 "$www/small.txt" "$www/big.bin"
wait_until 60 eval "srv_file '$n' /tmp/inner.out | grep -q 'http_client: READY'"
srv_host_client "$client" "$addr" 8080 "$www/small.txt" "$www/big.bin"
wait_until 60 grep -q "http_client: READY" "$E2E_TMP/host.out"

note "dump -> kill -> restore"
srv_dump_restore "$n" http_client

note "the same connections after the restore"
srv_go_on "$n" http_client

note "a new connection from the host"
assert_eq "small file of $(basename "$0")" "$(fetch "http://$addr:8080/small.txt")" "a new request after the restore"
"$AMBER" kill "$n" >/dev/null
