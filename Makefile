# Everything goes through the project's own virtualenv (.venv), created on first use.
# A fresh machine needs only python3, make and git.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# mypy refuses a directory with no .py files (benchmarks/ starts empty), so skip such directories.
LINT_PATHS := $(foreach d,mission telemetry sitl tests benchmarks,$(if $(wildcard $(d)/*.py $(d)/*/*.py),$(d)))
PYTEST_ARGS ?=
# Bytecode caches on, whatever the environment says (this machine's sets PYTHONDONTWRITEBYTECODE=1):
# without them every test process compiled the project again and pytest re-rewrote the asserts of
# some 400 modules (its plugins' too), 8.6 s of CPU per worker before the first test, 4 s with them.
export PYTHONDONTWRITEBYTECODE :=
# Four pytest workers (pytest-xdist), a test file per worker at a time (module-scoped services
# stay whole): most of the suite waits on simulated flights and browsers, so workers beyond the
# two cores fill the waits. Four once starved the simulators (about 650 s of CPU in 330 s); since
# services are forked from one that has imported them (tests/service_zygote.py) and bytecode is
# cached the suite needs about 450 s of CPU. PYTEST_WORKERS=0 runs serially. The PostgreSQL lane
# runs beside it on PG_WORKERS workers (`make test`).
PYTEST_WORKERS ?= 4
PG_WORKERS ?= 1
XDIST := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)
# The PostgreSQL lane of `make test`: the tests that exercise the database through the real
# service and the stores, run again with NAZORAT_TEST_DATABASE=postgresql (a fresh database per
# service, tests/pg_database.py) when PostgreSQL answers (NAZORAT_TEST_PG_URL, default
# postgresql://postgres@127.0.0.1:5432/postgres). PG_LANE=0 leaves it out.
# Mission behaviour runs here in process (the fake fleet): every mission store path on
# PostgreSQL in seconds; the simulator flights stay on SQLite only.
PG_TESTS := tests/test_migrations.py $(sort $(wildcard tests/test_incidents_*.py tests/test_zones_*.py)) \
	tests/test_auth.py tests/test_intake.py tests/test_missions_inprocess.py tests/test_interlocks.py \
	tests/test_interlocks_missions.py tests/test_mission_lifecycle_store.py tests/test_changes_publish.py \
	tests/test_missions_import.py \
	tests/test_runtime.py tests/test_no_reused_ids.py tests/test_missions_failover.py
PG_DESELECT :=
PG_LANE ?= 1

.PHONY: venv run test test-pg pg-lane bench lint ui browser

venv: $(STAMP)

# Reinstall only when pyproject.toml changes (or the venv is new).
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(PY) -m pip install -e '.[test,dev]'
	@touch $@

# The web console (ui/) is plain ES modules; npm only fetches the pinned libraries
# (ui/package-lock.json), copied into ui/vendor/ (build output, not in git). No CDN at run time.
UI_VENDOR := ui/vendor/leaflet/leaflet.js
ui: $(UI_VENDOR)

$(UI_VENDOR): ui/package.json ui/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js) is needed to build the console: apt-get install npm"; exit 1; }
	npm ci --prefix ui --no-audit --no-fund --loglevel=error
	rm -rf ui/vendor/leaflet && mkdir -p ui/vendor/leaflet
	cp -R ui/node_modules/leaflet/dist/leaflet.js ui/node_modules/leaflet/dist/leaflet.css \
		ui/node_modules/leaflet/dist/images ui/node_modules/leaflet/LICENSE ui/vendor/leaflet/
	# vector base maps (MVT from /tiles) drawn on a canvas in Leaflet: one self-contained bundle
	rm -rf ui/vendor/protomaps-leaflet && mkdir -p ui/vendor/protomaps-leaflet
	cp ui/node_modules/protomaps-leaflet/dist/protomaps-leaflet.js \
		ui/node_modules/protomaps-leaflet/LICENSE ui/vendor/protomaps-leaflet/
	# the demo's base map when the service has no archive: Natural Earth 1:10m country polygons
	# (public domain) as TopoJSON from world-atlas, turned into GeoJSON by topojson-client
	rm -rf ui/vendor/world-atlas ui/vendor/topojson-client && mkdir -p ui/vendor/world-atlas ui/vendor/topojson-client
	cp ui/node_modules/world-atlas/countries-10m.json ui/node_modules/world-atlas/LICENSE ui/vendor/world-atlas/
	cp ui/node_modules/topojson-client/dist/topojson-client.min.js \
		ui/node_modules/topojson-client/LICENSE ui/vendor/topojson-client/
	# coordinates as MGRS (drone and incident details, clicked points, the search box)
	rm -rf ui/vendor/mgrs && mkdir -p ui/vendor/mgrs
	cp ui/node_modules/mgrs/dist/mgrs.js ui/node_modules/mgrs/license.md ui/vendor/mgrs/
	@touch $@

# The console tests drive Debian's chromium through Playwright (which never downloads a browser).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else echo "chromium missing and not root: the console tests will be skipped"; fi; \
	fi

run: venv ui
	$(PY) -m mission.cli serve --sim 3 --sim-adsb-count 5 --sim-camera

# The whole suite on SQLite and, at the same time, the PostgreSQL lane (its output printed when
# both are done); fails if either failed.
test: venv ui browser
	@rc=0; pg_log=$$(mktemp); start=$$(date +%s); \
	$(MAKE) --no-print-directory pg-lane PYTEST_WORKERS=$(PG_WORKERS) > $$pg_log 2>&1 & pg=$$!; \
	$(PY) -m pytest -q $(XDIST) $(PYTEST_ARGS) || rc=1; \
	wait $$pg || rc=1; cat $$pg_log; rm -f $$pg_log; \
	echo "== make test: $$(( $$(date +%s) - start )) s in all"; \
	exit $$rc

# Only the PostgreSQL lane.
test-pg: venv ui browser pg-lane

pg-lane:
	@if [ "$(PG_LANE)" = 0 ]; then echo "== PostgreSQL lane skipped (PG_LANE=0)"; exit 0; fi; \
	if ! why=$$($(PY) tests/pg_database.py); then echo "== $$why"; exit 0; fi; \
	echo "== PostgreSQL lane: $(words $(PG_TESTS)) test files on PostgreSQL"; \
	start=$$(date +%s); rc=0; \
	NAZORAT_TEST_DATABASE=postgresql $(PY) -m pytest -q $(XDIST) -m "not nopg" $(PG_TESTS) $(PG_DESELECT) \
		$(PYTEST_ARGS) \
		|| rc=$$?; \
	echo "== PostgreSQL lane: $$(( $$(date +%s) - start )) s, pytest exit $$rc"; \
	[ $$rc -eq 0 ] || [ $$rc -eq 5 ]  # 5: PYTEST_ARGS selected none of these tests

bench: venv
	@set -e; for f in benchmarks/bench_*.py; do \
		[ -e "$$f" ] || { echo "no benchmarks yet"; break; }; \
		echo "== $$f"; $(PY) "$$f"; \
	done

lint: venv
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/mypy $(LINT_PATHS)
