# Two commands to know: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: demo test lint install clean

$(BIN)/foerderdesk: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	@# Compile the matcher's kernels now (cached beside them), not in the first re-match.
	$(BIN)/foerderdesk bench match --calls 200 --profiles 5 >/dev/null
	touch $@

# The German catalogs of the pages and of the mails, compiled whenever their text changes
# (the .mo files are not in git).
CATALOGS := $(patsubst %.po,%.mo,$(wildcard webui/translations/*/LC_MESSAGES/messages.po \
                                            scheduler/translations/*/LC_MESSAGES/messages.po))
%.mo: %.po $(BIN)/foerderdesk
	$(BIN)/pybabel compile -i $< -o $@ >/dev/null

# axe-core for the browser tests, exactly as package-lock.json pins it (a stamp, like the venv).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

install: $(BIN)/foerderdesk $(CATALOGS) node_modules/.installed

## demo: create the venv, the SQLite database and the offline data, then serve on :5000
demo: install
	$(BIN)/foerderdesk demo --port $(PORT)

## lint: ruff and the import contract (the dependency rule in the README's Architecture)
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

## test: the whole suite, lint and the import contract included
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
