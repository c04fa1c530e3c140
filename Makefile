# The course in two commands:  make lab  (set up, open JupyterLab)  ·  make test  (set up, run every test)
SHELL := /bin/bash
VENV  := .venv
export SLMLAB_HOME ?= $(HOME)/.cache/slmlab

.PHONY: help setup lab test unit bench book lint clean

help:                  ## this list
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z]+):[^#]*## /  make \1\t/' | expand -t 16

setup:                 ## venv with the pinned packages, llama.cpp built once into $(SLMLAB_HOME), offline models
	@bash scripts/setup.sh

lab: setup             ## open the course in JupyterLab (Ctrl-C to stop)
	@bash scripts/lab.sh

test: setup            ## unit tests, every notebook with papermill, then nbval (offline, one thread)
	@bash scripts/test.sh

unit:                  ## the fast tier: package tests that need no llama.cpp build (seconds; no compiling)
	@bash scripts/setup.sh --python-only
	@bash scripts/test.sh unit

bench: setup           ## the speed claims measured here and printed as ratios (about an hour on 2 cores)
	@bash scripts/test.sh bench

book: setup            ## the course's website (Jupyter Book) from the notebooks make test executed, in build/book/html
	@.venv/bin/python scripts/build_book.py

lint:                  ## ruff check and ruff format --check, as the test command runs them
	@.venv/bin/ruff check . && .venv/bin/ruff format --check .

clean:                 ## remove the venv and test outputs (the llama.cpp build in the cache stays)
	rm -rf $(VENV) build .cache .pytest_cache
