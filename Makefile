# Two commands set up a brand-new machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PIP    := $(VENV)/bin/python -m pip
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
PORT   ?= 8501
ADDRESS ?= 0.0.0.0

.PHONY: run serve serve-check test bench browser lock check-deps clean

# Runtime: (re)create the virtualenv whenever a runtime lock is newer than the last install.
# laion-clap goes in last, without its declared dependencies (requirements-nodeps.txt says why).
$(STAMP): requirements.txt requirements-nodeps.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	$(PIP) install --quiet --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

# Tests: the test tools on top (a new runtime lock rebuilds the venv, then this).
$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(DEV_STAMP)

# This machine only (loopback): no sign-in needed, nobody else can connect.
run: $(STAMP)
	$(VENV)/bin/streamlit run dashboard.py --server.address 127.0.0.1 --server.port $(PORT)

# For a team: sign-in required (.streamlit/secrets.toml [auth]); refuses to start without it (README, SECURITY.md).
# ADDRESS=127.0.0.1 behind a reverse proxy on this machine; serve-check only checks the configuration.
serve: $(STAMP)
	$(VENV)/bin/python -m detector serve --address $(ADDRESS) --port $(PORT)

serve-check: $(STAMP)
	$(VENV)/bin/python -m detector serve --check --address $(ADDRESS) --port $(PORT)

# Debian's chromium for the browser tests (Playwright's own browser download is blocked).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(DEV_STAMP) browser
	$(VENV)/bin/python -m pytest

bench: $(STAMP)
	$(VENV)/bin/python -m detector.bench

# Recompile the locks after editing requirements.in / requirements-dev.in. Existing pins
# are kept unless the .in files force a change (add --upgrade-package NAME to move one).
LOCK_VENV := .venv-lock
COMPILE   := CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet \
             --strip-extras --allow-unsafe --annotation-style=line --no-emit-index-url --no-emit-find-links
lock:
	[ -x $(LOCK_VENV)/bin/pip-compile ] || { $(PYTHON) -m venv $(LOCK_VENV) && \
	  $(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip && \
	  $(LOCK_VENV)/bin/python -m pip install --quiet pip-tools==7.6.2; }
	$(COMPILE) requirements.in -o requirements.txt
	$(COMPILE) requirements-dev.in -o requirements-dev.txt

# `pip check`, less the requirements laion-clap declares but that we leave out on purpose.
LAION_UNUSED := wandb|webdataset|braceexpand|wget|progressbar|ftfy|llvmlite|torchvision
check-deps: $(DEV_STAMP)
	@$(PIP) check > $(VENV)/pip-check.txt 2>&1; \
	 grep -vE '^laion-clap 1\.1\.7 requires ($(LAION_UNUSED)),' $(VENV)/pip-check.txt \
	   | grep -v '^No broken requirements found' && exit 1 || echo "pip check: only laion-clap's unused dependencies are missing"

clean:
	rm -rf $(VENV) $(LOCK_VENV) .pytest_cache
