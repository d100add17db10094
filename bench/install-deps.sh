#!/usr/bin/env bash
# Installs what `make bench` needs beyond the build: librdkafka (load generator), Google Benchmark
# (memcpy/CRC32C references), nlohmann-json and matplotlib (PNG plots), etcd and confluent-kafka
# (the S3 + etcd run and the cluster phase; scripts/swift-test.sh installs Swift itself). Only calls
# apt-get when something is missing.
set -euo pipefail
pkgs=(librdkafka-dev libbenchmark-dev nlohmann-json3-dev python3-matplotlib etcd-server etcd-client
      python3-confluent-kafka)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
