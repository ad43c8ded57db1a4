# Two commands on a fresh machine (Python 3.11 with pip): `make demo` and `make test`.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
VENV := .venv
NBA := $(VENV)/bin/nba
DEMO_CUSTOMERS ?= 5000
DEMO_LANDING := demo_landing
DEMO_HOME := demo_home
DEMO_AS_OF := 2026-11-01

.PHONY: install demo test ui bench evaluate-worlds clean

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(TOOLS)/bin/uv pyproject.toml uv.lock
	$(TOOLS)/bin/uv sync --frozen --compile-bytecode --quiet
	touch $@

install: $(VENV)/.installed

demo: install
	$(NBA) generate --customers $(DEMO_CUSTOMERS) --seed 7 --out $(DEMO_LANDING)
	$(NBA) run --landing $(DEMO_LANDING) --as-of $(DEMO_AS_OF) --home $(DEMO_HOME)

test: install
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

ui: install
	$(NBA) ui --home $(DEMO_HOME) --landing $(DEMO_LANDING)

bench: install
	$(NBA) bench --customers $(or $(CUSTOMERS),100000)

evaluate-worlds: install
	$(NBA) evaluate-worlds --worlds conversion lifecycle --customers $(or $(CUSTOMERS),20000) --seeds $(or $(SEEDS),7)

clean:
	rm -rf $(DEMO_LANDING) $(DEMO_HOME)
