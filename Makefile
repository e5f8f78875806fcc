# i2dl: every target creates what it needs, so `make test` works as the first command.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_PIN := torch==2.13.0
# Every version installed anywhere comes from this lock (made by `make lock`, with uv).
LOCK := requirements.lock
UV_PIN := uv==0.13.9
# Where pip is configured to look (the local torch CPU wheel), so that uv resolves the same.
FIND_LINKS = $(or $(PIP_FIND_LINKS),$(shell $(PY) -m pip config get global.find-links 2>/dev/null))
STAMP := $(VENV)/.installed

.PHONY: install install-notorch test test-notorch demo lint bench clean lock check-clean schema stats-example pictures

$(STAMP): pyproject.toml $(LOCK)
	$(PY) -m venv $(VENV)
	# torch pinned: this version is the CPU wheel; an unpinned torch pulls a CUDA build.
	$(BIN)/pip install --quiet -c $(LOCK) "$(TORCH_PIN)" -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# A second environment without torch proves the numpy engine stands alone.
$(VENV)-notorch/.installed: pyproject.toml $(LOCK)
	$(PY) -m venv $(VENV)-notorch
	$(VENV)-notorch/bin/pip install --quiet -c $(LOCK) -e ".[dev]"
	touch $@

install-notorch: $(VENV)-notorch/.installed

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

# The library-wide sample tests use the numpy engine either way: they run once, in `make test`.
test-notorch: $(VENV)-notorch/.installed
	$(VENV)-notorch/bin/python -m pytest -q -p no:cacheprovider -m "not library"

# The main job on the bundled default exam: generate it (replacing the last demo's), then explain one computed part.
demo: $(STAMP)
	$(BIN)/i2dl generate --seed 2024 --out exam --force
	$(BIN)/i2dl explain problem 5.6 --exam exam

lint: $(STAMP)
	$(BIN)/ruff check cli tests

bench: $(STAMP)
	$(BIN)/python bench/run.py

# docs/sheet-page1.png and docs/key-page1.png: the first pages of the default exam's PDF sheet and key.
pictures: $(STAMP)
	$(BIN)/python docs/pictures.py

# The published JSON Schema of exam.json, from the model that validates it (a test checks they agree).
schema: $(STAMP)
	$(BIN)/python -c "from i2dl.exam.data import json_schema_text; print(json_schema_text(), end='')" > docs/exam.schema.json

# The README's statistics picture: a synthetic 300-student cohort graded, its parts drawn (tests/cohort.py).
stats-example: $(STAMP)
	$(BIN)/python -m tests.cohort docs/stats-example.svg

# Re-resolve the lock after editing the dependencies in pyproject.toml (pins already in the
# lock are kept; `make lock LOCK_FLAGS=--upgrade` moves every package to its newest release).
lock:
	$(PY) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install --quiet "$(UV_PIN)"
	$(VENV)-lock/bin/uv pip compile pyproject.toml --extra dev --extra torch $(LOCK_FLAGS) \
		$(foreach f,$(FIND_LINKS),--find-links $(f)) \
		--custom-compile-command "make lock" --quiet -o $(LOCK)

# What CI does: a fresh clone of the committed tree, fresh environments, both suites.
check-clean:
	rm -rf $(CURDIR)/build/clean-clone
	git clone --quiet $(CURDIR) $(CURDIR)/build/clean-clone
	$(MAKE) -C $(CURDIR)/build/clean-clone test test-notorch PY=$(PY)

clean:
	rm -rf $(VENV) $(VENV)-notorch $(VENV)-lock build *.egg-info cli/*.egg-info .pytest_cache exam results
	find . -name __pycache__ -prune -exec rm -rf {} +
