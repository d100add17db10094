#!/usr/bin/env bash
# Installs whatever the build (and, with --test, the test suite) needs and is
# missing. Safe to run repeatedly: it only calls apt-get/npm when something is
# absent.
set -euo pipefail
cd "$(dirname "$0")/.."

build_pkgs=(build-essential cmake ninja-build ccache pkg-config python3
  libboost1.81-dev libcurl4-openssl-dev libssl-dev libspdlog-dev libfmt-dev
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev libisal-dev
  zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev)
test_pkgs=(kcat librdkafka-dev python3-confluent-kafka python3-kafka python3-pytest
  python3-lz4  # kafka-python decodes lz4 batches with it (test_compression.py)
  nodejs npm etcd-server etcd-client curl swift-proxy swift-account swift-container swift-object memcached
  libsasl2-dev  # with the codec libraries above: what librdkafka 2.15 is built against
  openssl  # test_security.py makes its certificates
  prometheus python3-yaml debootstrap)  # tests of deploy/: test_kubernetes*.py, test_image_rootfs.py

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if [[ "$p" == nodejs || "$p" == npm ]] && command -v node >/dev/null && command -v npm >/dev/null; then
    continue  # the machine image ships its own Node.js
  fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Node.js clients, exactly as package-lock.json pins them (npm ci never re-resolves).
node_dir=tests/integration/node
if [[ "${1:-}" == "--test" ]] && { [[ ! -d $node_dir/node_modules/kafkajs ]] ||
  [[ ! -d $node_dir/node_modules/@platformatic/kafka ]]; }; then
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

# The Kubernetes and prometheus-operator JSON schemas for the offline manifest checks, as pinned.
k8s_dir=tests/integration/kubernetes
if [[ "${1:-}" == "--test" ]] && { [[ ! -d $k8s_dir/node_modules/kubernetes-models ]] ||
  [[ ! -d $k8s_dir/node_modules/kubernetes-models-1.27 ]] ||
  [[ ! -d $k8s_dir/node_modules/@kubernetes-models/prometheus-operator ]]; }; then
  (cd "$k8s_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

# librdkafka 2.15, from the source @confluentinc/kafka-javascript bundles, built against Debian's
# libraries (CKJS_LINKING=dynamic; without it the build downloads dependency sources and fails).
# The integration suite runs its librdkafka tests a second time with this library on
# LD_LIBRARY_PATH. A failed build does not stop the install: that pass then fails and says why.
rdk_dir=tests/integration/node-rdkafka
if [[ "${1:-}" == "--test" ]] &&
  [[ ! -e $rdk_dir/node_modules/@confluentinc/kafka-javascript/build/deps/librdkafka.so.1 ]]; then
  echo "building librdkafka 2.15 (@confluentinc/kafka-javascript, about 2-3 minutes on 2 cores)"
  if ! (cd "$rdk_dir" && CKJS_LINKING=dynamic npm ci --no-audit --no-fund --loglevel=error); then
    echo "install-deps: building librdkafka 2.15 in $rdk_dir failed; the integration tests that need it will fail" >&2
  fi
fi
