# embedrec — the two commands that matter are `make run` and `make test`.
BUILD_DIR  ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=
PYTHON     ?= python3

.PHONY: all deps build run test unit-test web-test e2e-test fuzz-test bench clean

all: build

deps:
	@scripts/install-deps

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR)
	@scripts/build-web $(BUILD_DIR)

run: build
	$(BUILD_DIR)/embedrec serve

unit-test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j2

e2e-test: build
	@$(PYTHON) -c "import pytest, jsonschema" 2>/dev/null || $(PYTHON) -m pip install -q pytest jsonschema
	EMBEDREC_BIN=$(abspath $(BUILD_DIR))/embedrec $(PYTHON) -m pytest -q tests/e2e

# The browser code: unit tests and type checks (npm; installed by build).
web-test: build
	cd web && npm test --silent && npm run typecheck --silent

# Every libFuzzer target for a few seconds (clang-19, ASan + UBSan; tests/fuzz):
# a regression on its seeds or a quick finding fails the run.
fuzz-test: deps
	@scripts/fuzz smoke 8

test: unit-test web-test e2e-test fuzz-test

bench: deps $(BUILD_DIR)/build.ninja
	@scripts/install-deps --bench
	@# the benchmarks' Python side: the peer a shop would use (`implicit`), the electronics shop's generator (numpy)
	@$(PYTHON) -c "import numpy, scipy, implicit" 2>/dev/null || $(PYTHON) -m pip install -q numpy==2.4.6 scipy==1.17.1 implicit==0.7.3
	cmake -S . -B $(BUILD_DIR) >/dev/null  # finds Google Benchmark once it is installed
	cmake --build $(BUILD_DIR)
	EMBEDREC_BIN=$(abspath $(BUILD_DIR))/embedrec BUILD_DIR=$(abspath $(BUILD_DIR)) bench/run-all

clean:
	rm -rf $(BUILD_DIR)
