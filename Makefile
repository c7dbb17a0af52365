# The two commands of the README: `make demo` runs the product, `make test` runs the tests.
# Both create or refresh .venv with the running Python first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-avx2 test-avx2-qemu lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/triage demo

test: $(STAMP)
	$(BIN)/ruff check triage edge_node cloud_core commands demo_shop tests bench
	$(BIN)/mypy
	$(BIN)/pytest

# The whole suite on the kernels an AVX2-only CPU picks, at native speed: tools/cpuid_mask hides
# AVX-512, VNNI and AMX from CPUID (CPUID faulting), so ONNX Runtime, numpy, FAISS and the llama.cpp
# peer (built for the flags the process is shown) take their AVX2 paths. Same length as make test,
# plus one llama.cpp build for AVX2 the first time.
test-avx2: $(STAMP)
	tools/cpuid_mask/run avx2 $(BIN)/pytest

# Where the CPU cannot fault on CPUID: the exactness tests under qemu-user's AVX2-only CPU model.
# Timings under emulation mean nothing; the tests assert equalities. About 19 minutes on 2 cores.
AVX2_TESTS ?= tests/unit/test_cloud_core/test_llm/test_graph.py \
	tests/unit/test_cloud_core/test_llm/test_onnx.py::test_speculation_never_changes_the_greedy_text_over_twenty_prompts \
	tests/unit/test_cloud_core/test_llm/test_onnx.py::test_speculative_decoding_gives_exactly_the_greedy_text \
	tests/unit/test_triage/test_encoder.py
test-avx2-qemu: $(STAMP)
	@command -v qemu-x86_64 >/dev/null || { echo "qemu-x86_64 not found: install Debian's qemu-user (apt-get install qemu-user), then rerun"; exit 1; }
	qemu-x86_64 -cpu EPYC-Rome $(BIN)/python -m pytest -q -p no:cacheprovider $(AVX2_TESTS)

bench: $(STAMP)
	$(BIN)/python bench/encoder_speed.py
	$(BIN)/python bench/langid.py
	$(BIN)/python bench/quality.py --out docs/quality.json
	$(BIN)/python bench/thin_languages.py --out docs/thin_languages.json
	$(BIN)/python bench/fine_intents.py --out docs/fine_intents.json
	$(BIN)/python bench/repetition.py --out docs/repetition.json
	$(BIN)/triage build --catalog intents/storefront --out var/bundle
	$(BIN)/python bench/edge_load.py --bundle var/bundle

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
