# KafScale: `make run` starts one broker on 127.0.0.1:9092; `make test` passes every test.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
LISTEN ?= 127.0.0.1:9092
CMAKE_FLAGS ?=
PROFILE ?= quick

SANITIZE_BUILD ?= build-asan
# 1: test-sanitize runs the integration modules listed in tests/integration/conftest.py (SANITIZE_SUBSET_MODULES).
SANITIZE_SUBSET ?= 1

.PHONY: all deps test-deps build run test unit-test integration-test test-sanitize clean bench bench-deps fuzz

all: build

deps:
	@bash scripts/install-deps.sh

test-deps:
	@bash scripts/install-deps.sh --test

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD)

run: build
	$(BUILD)/kafscale broker --listen $(LISTEN)

unit-test: build
	cd $(BUILD) && ctest --output-on-failure -j2

integration-test: build test-deps
	bash tests/run-integration.sh

# Unit and integration tests with etcd and an S3 API server (Swift) running on
# loopback, so the backends' conformance suites run against the real servers.
test: test-deps build
	bash tests/with-services.sh bash -c 'cd $(BUILD) && ctest --output-on-failure -j2 && cd .. && bash tests/run-integration.sh'

# A Debug build with AddressSanitizer + UndefinedBehaviorSanitizer (-DKS_SANITIZE=ON) in $(SANITIZE_BUILD):
# its unit tests, then the integration suite against its broker. A sanitizer report fails the test
# (KAFSCALE_SANITIZED=1: tests/integration/conftest.py collects every kafscale process's reports and
# loosens timing bounds only). One librdkafka pass: the sanitizer checks the broker, not the client.
test-sanitize: test-deps deps
	cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DKS_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(SANITIZE_BUILD)
	bash tests/with-services.sh bash -c 'cd $(SANITIZE_BUILD) && ctest --output-on-failure -j2 && cd .. && KAFSCALE_BIN=$(SANITIZE_BUILD)/kafscale KAFSCALE_SANITIZED=1 KAFSCALE_SANITIZE_SUBSET=$(SANITIZE_SUBSET) LIBRDKAFKA=2.0.2 bash tests/run-integration.sh'

# Benchmarks (docs/BENCHMARKS.md): PROFILE=quick (~6 minutes, half of it the cluster failover phase) or
# PROFILE=full (the whole matrix). LIBRDKAFKA=2.15 runs the load generator and the cluster phase's clients
# on the librdkafka 2.15 that `scripts/install-deps.sh --test` builds (default: Debian's 2.0.2).
RDK_215_DIR := $(CURDIR)/tests/integration/node-rdkafka/node_modules/@confluentinc/kafka-javascript/build/deps
bench: bench-deps build
ifeq ($(LIBRDKAFKA),2.15)
	@bash scripts/install-deps.sh --test
	@test -e $(RDK_215_DIR)/librdkafka.so.1 || { echo "bench: librdkafka 2.15 is not built ($(RDK_215_DIR))" >&2; exit 1; }
	LD_LIBRARY_PATH=$(RDK_215_DIR) /usr/bin/python3 bench/run_bench.py --profile $(PROFILE) --build $(BUILD)
else
	/usr/bin/python3 bench/run_bench.py --profile $(PROFILE) --build $(BUILD)
endif

bench-deps:
	@bash bench/install-deps.sh

# libFuzzer targets (tests/fuzz/README.md), FUZZ_SECONDS each (default 600).
fuzz:
	bash tests/fuzz/run.sh

clean:
	rm -rf $(BUILD)
