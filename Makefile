# Two entry points: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint check eval bench bench-broadcast clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) main.py run

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q

check: $(STAMP)
	$(PY) main.py check

eval: $(STAMP)
	$(PY) main.py eval ../shared/dev-questions.yaml

bench: $(STAMP)
	$(PY) benchmarks/bench_matcher.py

bench-broadcast: $(STAMP)
	$(PY) benchmarks/bench_broadcast.py

clean:
	rm -rf $(VENV) .pytest_cache
