# Plait: `make run` starts the app on the default vault, `make test` runs the suite.
# Both build .venv from nothing when it is missing or pyproject.toml changed.
# `make bundle` builds the standalone bundle into dist/ and checks it (packaging/README.md).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
BUNDLE_STAMP := $(VENV)/.bundle-installed

.PHONY: run test bench bundle install-desktop uninstall-desktop clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

$(BUNDLE_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[test,bundle]"
	@touch $(BUNDLE_STAMP)

run: $(STAMP)
	$(VENV)/bin/plait $(ARGS)

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m tests.benchmarks $(ARGS)

# Build dist/plait-VERSION-PLATFORM-ARCH.tar.gz with PyInstaller, then check it as a
# user gets it. build_deps.sh installs what Qt's xcb platform needs and Xvfb, when it can.
bundle: $(BUNDLE_STAMP)
	-sh packaging/bundle/build_deps.sh
	$(PY) packaging/bundle/build.py --out dist --check

# This user's application menu, icon and plait:// handler for .venv's plait (Linux).
install-desktop: $(STAMP)
	sh packaging/linux/install-desktop.sh $(CURDIR)/$(VENV)/bin/plait

uninstall-desktop: $(STAMP)
	sh packaging/linux/uninstall-desktop.sh $(CURDIR)/$(VENV)/bin/plait

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis tests/artifacts
