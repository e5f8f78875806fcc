# i2dl: every target creates what it needs, so `make test` works as the first command.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_PIN := torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install install-notorch test test-notorch demo lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	# torch pinned: this version is the CPU wheel; an unpinned torch pulls a CUDA build.
	$(BIN)/pip install --quiet "$(TORCH_PIN)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# A second environment without torch proves the numpy engine stands alone.
$(VENV)-notorch/.installed: pyproject.toml
	$(PY) -m venv $(VENV)-notorch
	$(VENV)-notorch/bin/pip install --quiet -e ".[dev]"
	touch $@

install-notorch: $(VENV)-notorch/.installed

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-notorch: $(VENV)-notorch/.installed
	$(VENV)-notorch/bin/python -m pytest -q -p no:cacheprovider

# The main job on the bundled default exam: generate it, then explain one computed part.
demo: $(STAMP)
	$(BIN)/i2dl generate --seed 2024 --out exam
	$(BIN)/i2dl explain problem 5.6 --exam exam

lint: $(STAMP)
	$(BIN)/ruff check cli tests

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(VENV)-notorch build *.egg-info cli/*.egg-info .pytest_cache exam results
	find . -name __pycache__ -prune -exec rm -rf {} +
