#!/usr/bin/env bash
# Installs what amber needs to build and test (Debian 12 packages), only what is missing.
set -euo pipefail
pkgs=(
  g++ cmake ninja-build pkg-config
  protobuf-compiler libprotobuf-dev
  libcli11-dev libfmt-dev libxxhash-dev libzstd-dev nlohmann-json3-dev
  libssl-dev  # OpenSSL 3: image authentication (src/image/auth.cpp)
  libnl-3-dev libnl-route-3-dev
  libnftables-dev  # a container's nftables ruleset (src/kinds/ns/net_nft.cpp)
  libgtest-dev libbenchmark-dev
  busybox-static python3 jq util-linux
  runc python3-protobuf  # amber as a runtime's checkpoint engine: e2e swrk_*.sh (runc, a python RPC client)
  containerd  # ctr checkpoints and restores through runc and amber: e2e swrk_containerd_*.sh
  podman  # podman checkpoint/restore through amber: e2e swrk_podman_*.sh (conmon comes with it)
  perl sqlite3 openjdk-17-jdk-headless nodejs vim redis-server  # real programs the e2e tests checkpoint (real_*.sh)
  postgresql nginx memcached  # real servers with clients held across a checkpoint (real_postgres/nginx/memcached.sh)
  iproute2 nftables iptables  # dump_netns*.sh, run_veth.sh build net namespace state
  dpkg-dev man-db groff-base  # cpack -G DEB (dpkg-shlibdeps), the man pages' tests (tests/build/)
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "setup: run as root to install packages" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
