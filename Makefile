# The two commands of the README: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint install install-run install-dev clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# A stamp per requirements file: reinstall only when the file changes.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# Running needs the runtime requirements and honcho (Procfile.dev), nothing of the test tools.
$(VENV)/.run: requirements-run.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-run.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements-run.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-run: $(VENV)/.run
install-dev: $(VENV)/.dev

# A development .env (DEBUG=1, a generated SECRET_KEY), so `python manage.py …` works as the README
# writes it. Only when there is none: an existing .env is never touched.
.env: | $(BIN)/python
	$(BIN)/python scripts/dev_env.py $@

## make run: migrate, seed the demo school, then the web server and the worker (Ctrl-C stops both).
run: install-run .env
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py createcachetable
	DEBUG=1 PORT=$(PORT) $(BIN)/python manage.py seed_demo --superuser
	PATH="$(CURDIR)/$(BIN):$$PATH" DEBUG=1 $(BIN)/honcho start --procfile Procfile.dev --port $(PORT)

## make test: the whole suite (SQLite by default; DATABASE_URL=postgres://... for PostgreSQL), in
## TEST_WORKERS parallel pytest-xdist workers, each with its own test database (tests/README.md).
# Three on two cores: two of them spend minutes waiting on the wall clock in the tests marked `long`.
TEST_WORKERS ?= 3
test: install-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

## make lint: ruff, the import layers (import-linter, pyproject.toml), Django's system checks and a
## missing-migration check.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	DEBUG=1 $(BIN)/python manage.py check --fail-level WARNING
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

## make messages: refresh the Nepali catalogues (the app's, the demo school's and the demo project's,
## config/locale: its settings' words and config/django_words.py) from the sources, then compile
## them (needs GNU gettext: apt-get install gettext). Both files of each are committed;
## tests/project/test_translation.py checks they agree and that no string of the sources is missing.
MESSAGE_APPS := attendance_push school config
messages: install-dev
	for app in $(MESSAGE_APPS); do \
		(cd $$app && ../$(BIN)/django-admin makemessages -l ne --no-obsolete --add-location file) || exit 1; \
	done
	# Rewrapped as committed (polib's width), so a refresh shows only the entries that changed.
	$(BIN)/python -c 'import polib, sys; [polib.pofile(path).save() for path in sys.argv[1:]]' \
		$(foreach app,$(MESSAGE_APPS),$(app)/locale/ne/LC_MESSAGES/django.po)
	for app in $(MESSAGE_APPS); do \
		(cd $$app && ../$(BIN)/django-admin compilemessages -l ne) || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .coverage htmlcov staticfiles test-artifacts

.PHONY: bench
## make bench: the push benchmark of docs/performance.md, on SQLite and on PostgreSQL (BENCH_PG_URL, default
## postgres://postgres@127.0.0.1:5432/postgres): 1,000,000 people with --check, then 31 days on 100,000 people,
## then the push with its ledger and the undo at 1,000,000 people (--ledger).
## Every run is made even when an earlier one misses a target; make fails at the end if any did.
bench: install
	status=0; \
	$(BIN)/python bench/push_bench.py --people 1000000 --db sqlite --check --show-sql || status=1; \
	$(BIN)/python bench/push_bench.py --people 100000 --db sqlite --range-days 31 --check || status=1; \
	$(BIN)/python bench/push_bench.py --people 1000000 --db sqlite --ledger --repeat 3 --check || status=1; \
	$(BIN)/python bench/push_bench.py --people 1000000 --db postgres --check --show-sql || status=1; \
	$(BIN)/python bench/push_bench.py --people 100000 --db postgres --range-days 31 --check || status=1; \
	$(BIN)/python bench/push_bench.py --people 1000000 --db postgres --ledger --repeat 3 --check || status=1; \
	exit $$status
