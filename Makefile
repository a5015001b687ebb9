# The kit's commands. Every target creates the environment (.venv) first when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HW ?= clip

.PHONY: setup demo test test-fast test-browser lab release student-kit data checkpoints bench clean

setup: $(STAMP)

# torch is pinned in pyproject.toml to the CPU build that pip finds on this machine.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -c "from grader import sandbox; print(sandbox.setup_message())"   # and librosa compiled once for the sandboxed kernels
	touch $(STAMP)

demo: setup   ## release, grade the bundled sample submissions, write feedback and grades.csv
	$(PY) -m grader demo

test: setup   ## everything: library, data, release, grading of solutions, blanks and mutants
	$(PY) -m pytest -q

test-fast: setup   ## the tests that run no notebook (seconds)
	$(PY) -m pytest -q -m "not slow"

ROLE ?= student
test-browser: setup   ## JupyterLab in Chromium: every solution run, its plots, audio and widgets, Validate (needs Debian's chromium)
	$(PY) -m pip install -q -e '.[browser]'
	$(PY) -m pytest -q --browser -m browser

lab: setup   ## JupyterLab with the student's nbgrader tools; ROLE=instructor for every tool, from the kit's root
	$(PY) -m mmkit.lab $(if $(filter instructor,$(ROLE)),--instructor .,notebooks)

release: setup   ## regenerate notebooks/ from solutions/
	$(PY) -m grader release

student-kit: setup   ## grader/work/student-kit.zip: notebooks, data, helper library, install files (no solutions)
	$(PY) -m grader student-kit

data: setup   ## rebuild data/ from its builders and refresh data/MANIFEST.json (Spoken needs espeak-ng)
	$(PY) data/build_shapes.py
	$(PY) data/build_spoken.py

checkpoints: setup   ## retrain data/checkpoints/ (CLIP vision tower, language model, WaveNet and its vocoder, the VALL-E codec, recogniser and models; WaveNet wants a GPU)
	$(PY) data/build_checkpoints.py

bench: setup   ## measure the figures quoted in README.md
	$(PY) tests/bench.py

clean:
	rm -rf grader/work
