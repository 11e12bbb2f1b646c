# medsec: `make test`, `make demo`, `make bench`. Each creates .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_HOME ?= $(CURDIR)/.demo

.PHONY: test lint judges docs man demo bench fuzz clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Static checks first: style and complexity (ruff), types (mypy), and the
# import boundaries (import-linter contracts in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check medsec plugins tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Judges that cannot share medsec's environment: linuxforhealth-x12 (270/271, 276/277) needs pydantic 1
# (tests/helpers/lfh.py calls it as a subprocess; JUDGES.md).
JUDGES ?= .venv-judges
JUDGE_STAMP := $(JUDGES)/.installed-stamp
$(JUDGE_STAMP):
	test -x $(JUDGES)/bin/python || $(PYTHON) -m venv $(JUDGES)
	$(JUDGES)/bin/python -m pip install --quiet 'linuxforhealth-x12==0.57.0' 'pydantic<2'
	touch $(JUDGE_STAMP)
judges: $(JUDGE_STAMP)

test: lint judges
	$(PY) -m pytest

# Property-based fuzzing of every command (tests/test_fuzz.py) with fresh randomness and
# FUZZ_EXAMPLES examples per command; `make test` runs a few fixed ones. E.g. `make fuzz FUZZ_EXAMPLES=2000`.
FUZZ_EXAMPLES ?= 200
fuzz: $(STAMP)
	MEDSEC_FUZZ_PROFILE=fuzz MEDSEC_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -p no:cacheprovider tests/test_fuzz.py $(FUZZ_ARGS)

# Regenerate the CLI reference from the command tree's --help (a test fails when it drifts).
docs: $(STAMP)
	$(VENV)/bin/cog -r docs/cli.md

# Manual pages of every command (medsec(1), medsec-appt-book(1) ...), generated from the command tree.
# man finds them in $(VENV)/share/man while $(VENV)/bin is on PATH; elsewhere: make man MANDIR=~/.local/share/man
MANDIR ?= $(VENV)/share/man
man: $(STAMP)
	$(VENV)/bin/medsec help --install-man $(MANDIR)

demo: $(STAMP)
	rm -rf $(DEMO_HOME)
	MEDSEC_HOME=$(DEMO_HOME) $(VENV)/bin/medsec init --demo
	MEDSEC_HOME=$(DEMO_HOME) $(VENV)/bin/medsec staff list
	MEDSEC_HOME=$(DEMO_HOME) $(VENV)/bin/medsec patient list --limit 15
	MEDSEC_HOME=$(DEMO_HOME) $(VENV)/bin/medsec patient find quin zyz
	MEDSEC_HOME=$(DEMO_HOME) $(VENV)/bin/medsec patient coverage list P1
	MEDSEC_HOME=$(DEMO_HOME) $(VENV)/bin/medsec appt day --provider S1
	MEDSEC_HOME=$(DEMO_HOME) $(VENV)/bin/medsec appt slots --any --type follow-up --days 2 --limit 5
	MEDSEC_HOME=$(DEMO_HOME) $(VENV)/bin/medsec remind send --dry-run
	MEDSEC_HOME=$(DEMO_HOME) $(VENV)/bin/medsec plugins
	MEDSEC_HOME=$(DEMO_HOME) $(VENV)/bin/medsec check
	@echo "demo data directory: $(DEMO_HOME)  (try: MEDSEC_HOME=$(DEMO_HOME) $(VENV)/bin/medsec --help)"

bench: $(STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(JUDGES) $(DEMO_HOME) build *.egg-info .pytest_cache
