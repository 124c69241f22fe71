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

.PHONY: demo test bench lint clean venv .venv-tf4

venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
	  if $(PY) -c "import torch" 2>/dev/null; then \
	    echo "using the torch of $(PY)"; $(PY) -m venv --system-site-packages $(VENV); \
	  else $(PY) -m venv $(VENV); fi; \
	fi
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hermes4 run recipes/tiny.yaml

# transformers 4.x beside the project's 5.x: the export must load in both (tests/train/test_train_vocab_export.py).
TF4 := .venv-tf4
$(TF4)/.installed:
	$(PY) -m venv $(TF4)
	$(TF4)/bin/pip install -q "$(TORCH_SPEC)" 'transformers==4.57.*'
	@touch $@

.venv-tf4: $(TF4)/.installed

test: $(STAMP) $(TF4)/.installed
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[test,bench]'
	@echo "see benchmarks/README.md"

lint: $(STAMP)
	$(BIN)/python -m ruff check src tests benchmarks

clean:
	rm -rf $(VENV) $(TF4) build dist src/*.egg-info .pytest_cache
