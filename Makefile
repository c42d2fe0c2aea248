# sqs-reliability-course: the front door. `make help` lists every target.
#
# Switches are variables:
#   make setup VENV=/tmp/venv            where the virtual environment lives (default .venv)
#   make lab LAB_ARGS="--port 9999"      extra arguments for `jupyter lab`
#   make test TEST_ARGS="-k clock"       extra arguments for pytest (WORKERS=2 processes)
#   make grade SUBMISSIONS=dir OUT=dir   grade a class; plain `make grade` self-checks work/
#   make grade SOURCE=dir                grade with a private source (hidden tests kept outside the repository)
#   make grade STRICT=1                  self-check: exit non-zero when anything is not fully passed
#   make grade GRADE_ARGS=...            extra arguments for autograder/grade.py
#   make bench BENCH_ARGS=...            extra arguments for python -m sqslab.tools.bench
#   make mutants MUTANTS_ARGS="--lesson 04 --jobs 2"   extra arguments for tools/mutants (--list, --sample N, ...)
#   make bench-speed SPEED_ARGS=...      extra arguments for python -m sqslab.tools.benchspeed
#   make setup SETUP_FORCE=1             install into a venv that serves another checkout (see tools/envcheck.py)
#   make hub HUB_PORT=8000 HUB_LEARNERS=sqs-ada,sqs-bob HUB_INSTRUCTOR=sqs-teacher   the local hub's users and port
#   make hub-setup HUB_PREFIX=/opt/sqslab-hub    where the hub's environment (readable by every uid) lives

.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

# The interpreter that creates the venv: Python 3.11, preferring an explicit python3.11.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV ?= .venv
PY ?= $(VENV)/bin/python
# Inside the venv, so that deleting the venv (or pointing VENV elsewhere) also forgets the setup.
STAMP := $(VENV)/.stamp-sqslab-setup

WORKERS ?= 2
TEST_ARGS ?=
LAB_ARGS ?=
GRADE_ARGS ?=
BENCH_ARGS ?=
MUTANTS_ARGS ?=
SPEED_ARGS ?=
SUBMISSIONS ?=
SOURCE ?=
STRICT ?=
OUT ?= out
SETUP_FORCE ?=
HUB_PREFIX ?= /opt/sqslab-hub
HUB_PORT ?= 8000
HUB_INSTRUCTOR ?= sqs-teacher
HUB_LEARNERS ?= sqs-ada,sqs-bob,sqs-cy

# JupyterLab for a learner: local only, no calls home for news or updates, and (through
# tools/jupyter-config) without nbgrader's instructor panels, which need a gradebook a learner has not
# got; nbgrader's Validate button stays. Root (a container) needs --allow-root.
JUPYTER_LAB_ANY = "$(PY)" -m jupyter lab --ip=127.0.0.1 \
  --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
  $$( [ "$$(id -u)" -eq 0 ] && echo --allow-root )
JUPYTER_LAB = JUPYTER_CONFIG_PATH="$(CURDIR)/tools/jupyter-config$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
  $(JUPYTER_LAB_ANY)

.PHONY: help setup lab test lint grade release author strip bench bench-speed fidelity mutants corpus demo clean clean-work hub hub-setup hub-test hub-clean

help: ## List the targets (this text)
	@echo "sqs-reliability-course: make <target> [VAR=value ...]"
	@echo
	@grep -E '^[a-zA-Z_-]+:.*## ' $(firstword $(MAKEFILE_LIST)) \
	  | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: VENV=$(VENV) PYTHON=$(PYTHON) WORKERS=$(WORKERS) OUT=$(OUT)"
	@echo "           LAB_ARGS TEST_ARGS GRADE_ARGS BENCH_ARGS SPEED_ARGS MUTANTS_ARGS SUBMISSIONS SETUP_FORCE"
	@echo "           HUB_PREFIX HUB_PORT HUB_INSTRUCTOR HUB_LEARNERS (see the Makefile's head)"

setup: $(STAMP) ## Create the venv (Python 3.11, VENV=.venv) and install the course; instant once done

$(STAMP): pyproject.toml
	@if ! command -v "$(PY)" >/dev/null; then \
	  if ! "$(PYTHON)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then \
	    echo "setup: need Python 3.11; '$(PYTHON)' is $$("$(PYTHON)" --version 2>&1 || echo missing)." >&2; \
	    echo "setup: install Python 3.11, or run: make setup PYTHON=/path/to/python3.11" >&2; \
	    exit 1; \
	  fi; \
	  echo "setup: creating $(VENV) with $(PYTHON)"; \
	  "$(PYTHON)" -m venv "$(VENV)"; \
	fi
	@# Skip pip when the environment already matches (a touched pyproject.toml, a shared venv):
	@# reinstalling the editable package briefly unimports sqslab for everyone using this venv.
	@status=0; "$(PY)" tools/envcheck.py --quiet || status=$$?; \
	if [ $$status -eq 0 ]; then \
	  echo "setup: $(VENV) already has every pinned requirement"; \
	elif [ $$status -eq 2 ] && [ -z "$(SETUP_FORCE)" ]; then \
	  exit 1; \
	else \
	  echo "setup: pip install -e '.[test,hub]' into $(VENV) (a few minutes on a fresh machine)"; \
	  "$(PY)" -m pip install --quiet --disable-pip-version-check -e '.[test,hub]'; \
	  "$(PY)" tools/envcheck.py; \
	fi
	@mkdir -p "$(dir $@)" && touch "$@"
	@echo "setup: done ($(VENV))"

lab: setup ## Copy course/ into work/ (never overwriting your files) and open JupyterLab there
	@if [ ! -d course ] || [ -z "$$(ls -A course 2>/dev/null)" ]; then \
	  echo "lab: course/ is empty; run 'make release' to generate it from solutions/" >&2; exit 1; fi
	"$(PY)" tools/workcopy.py --course course --work work
	$(JUPYTER_LAB) --notebook-dir=work $(LAB_ARGS)

test: setup lint ## Lint, then run the whole test suite in parallel (pytest -n WORKERS), all but the hub test; what CI runs
	@# Any non-zero pytest status fails the target, including 5 (no tests were collected).
	"$(PY)" -m pytest -n $(WORKERS) -m "not hub" $(TEST_ARGS)

hub-setup: setup ## The hub's environment, readable by every uid (HUB_PREFIX; root, npm)
	"$(PY)" tools/hub/hubenv.py --prefix "$(HUB_PREFIX)"

hub: hub-setup ## A JupyterHub with the course on this machine, local users, nbgrader's exchange (root)
	"$(PY)" tools/hub/classroom.py run --prefix "$(HUB_PREFIX)" --port $(HUB_PORT) \
	  --instructor "$(HUB_INSTRUCTOR)" --learners "$(HUB_LEARNERS)"

hub-clean: ## Remove the users and the class that `make hub` made (their home folders too)
	"$(PY)" tools/hub/classroom.py clean --prefix "$(HUB_PREFIX)"

hub-test: hub-setup ## The class on a real hub, end to end (tests/deploy/test_hub.py; root; about 3 minutes)
	"$(PY)" -m pytest -m hub tests/deploy/test_hub.py $(TEST_ARGS)
	@echo "hub-test: each step's time and what it checks (artifacts/hub-test-steps.json):"
	@cat artifacts/hub-test-steps.json

lint: setup ## Check the code for unused imports and undefined names (ruff; the rules are in pyproject.toml)
	"$(PY)" -m ruff check --quiet .

grade: setup ## Self-check work/; with SUBMISSIONS=dir OUT=dir, grade a class into OUT/
	@if [ ! -f autograder/grade.py ]; then \
	  echo "grade: autograder/grade.py is not built yet, so there is nothing to grade with." >&2; exit 1; fi
ifneq ($(strip $(SUBMISSIONS)),)
	"$(PY)" autograder/grade.py --submissions "$(SUBMISSIONS)" --out "$(OUT)" \
	  $(if $(strip $(SOURCE)),--source "$(SOURCE)") $(GRADE_ARGS)
else
	@if [ ! -d work ]; then echo "grade: no work/ folder yet; 'make lab' creates it." >&2; exit 1; fi
	@# Exit 0 whenever grading worked, whatever the score: the table says what to do next.
	@"$(PY)" autograder/grade.py --work work $(if $(strip $(SOURCE)),--source "$(SOURCE)") \
	  $(if $(strip $(STRICT)),--strict) $(GRADE_ARGS)
endif

release: setup ## Regenerate course/ from solutions/ with nbgrader (outputs stripped, same bytes every run)
	"$(PY)" tools/release.py --solutions solutions --course course

author: setup ## Open JupyterLab on solutions/ with nbgrader's authoring tools (lesson authors)
	$(JUPYTER_LAB_ANY) --notebook-dir=solutions $(LAB_ARGS)

strip: setup ## Remove outputs and execution counts from the notebooks in solutions/ and demos/ (in place)
	"$(PY)" tools/release.py --strip solutions demos

bench: setup ## Run the benchmarks (python -m sqslab.tools.bench)
	@if "$(PY)" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("sqslab.tools.bench") is None)'; then \
	  "$(PY)" -m sqslab.tools.bench $(BENCH_ARGS); \
	else \
	  echo "bench: sqslab.tools.bench is not built yet (src/sqslab/tools/bench.py)." >&2; exit 1; \
	fi

bench-speed: setup ## What each speed-up saves on the course, grading and the longest exploration (keep or delete; long)
	"$(PY)" -m sqslab.tools.benchspeed --out "$(OUT)/bench" $(SPEED_ARGS)

fidelity: setup ## Which SQS facts the endpoint honours (SQSLAB_ENDPOINT; python -m sqslab.tools.fidelity)
	"$(PY)" -m sqslab.tools.fidelity --out "$(OUT)/fidelity.md"

mutants: setup ## Mutation analysis: each lesson's graded tests against every mutant of its solutions (OUT/mutants/)
	@# One kernel per lesson; prints a table per lesson and its time, lists every survivor with its diff.
	PYTHONPATH="$(CURDIR)/tools$${PYTHONPATH:+:$$PYTHONPATH}" "$(PY)" -m mutants --out "$(OUT)/mutants" $(MUTANTS_ARGS)

corpus: setup ## Every lesson's whole corpus of right and wrong answers, graded (make test grades a sample)
	@# Every case of every lesson through one `nbgrader autograde` per lesson, and every right answer
	@# through autograder/grade.py (never flagged, full marks).
	SQSLAB_CORPUS=all "$(PY)" -m pytest -n $(WORKERS) tests/course/test_corpus.py tests/grader/test_grader_lessons.py $(TEST_ARGS)

demo: setup ## The live demos in a presentation layout (demos/ copied once into demo-work/)
	@if ! compgen -G 'demos/*.ipynb' >/dev/null; then \
	  echo "demo: demos/ holds no demo notebook" >&2; exit 1; fi
	@# A copy, as for make lab: running a demo saves outputs, and demos/ stays stored without them.
	"$(PY)" tools/workcopy.py --course demos --work demo-work
	@# The presentation layout (tools/jupyter-config/demo): the simple interface with the first demo
	@# open, no header, file browser or status bar (the demo widget makes its notebook's text the size
	@# of presentation mode); a workspace of the demos' own, so the instructor's usual layout is left
	@# alone. Seeded once: a layout changed in class is kept; delete demo-work/.workspaces to get the
	@# presentation layout back.
	@if [ ! -d demo-work/.workspaces ]; then mkdir -p demo-work/.workspaces && \
	  "$(PY)" -m jupyter lab workspaces import --LabWorkspaceImportApp.workspaces_dir=demo-work/.workspaces \
	    tools/jupyter-config/demo/workspace.json >/dev/null; fi
	$(JUPYTER_LAB) --notebook-dir=demo-work --LabApp.app_settings_dir="$(CURDIR)/tools/jupyter-config/demo" \
	  --LabApp.workspaces_dir="$(CURDIR)/demo-work/.workspaces" \
	  --LabApp.default_url="/doc/tree/$(notdir $(firstword $(sort $(wildcard demos/*.ipynb))))" $(LAB_ARGS)

clean: ## Remove caches, build artefacts and out/ (never work/: see clean-work)
	find . -path ./.git -prune -o -path './$(VENV)' -prune -o -path ./work -prune -o \
	  \( -name __pycache__ -o -name .pytest_cache -o -name .ipynb_checkpoints \) -type d -print0 \
	  | xargs -0 rm -rf
	rm -rf build dist out artifacts src/*.egg-info autograder/.grade-cache

clean-work: ## Delete work/ and demo-work/, your own copies of the notebooks (your answers are lost)
	rm -rf work demo-work
