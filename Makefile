# proofwatch: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench venv clean image image-test train

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
# glyph CNN, and lines.onnx, the line recogniser) from the MNIST train rows only: installs
# the CPU build of torch and onnx, then trains on 2 cores (fixed seeds). A glyph CNN of
# drawn lines only (3 minutes) picks the code lines that PP-OCR's detector cuts out of
# 3,000 train-split proof photos (35-70 minutes, two processes at once); both readers then
# learn from those lines too (glyphs: 6-15 minutes; lines: 40 on a loaded machine).
TRAIN_OUT = training/out
CROPS = $(TRAIN_OUT)/crops-0.npz $(TRAIN_OUT)/crops-1.npz
train: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,train]'
	$(BIN)/mypy training
	PYTHONPATH=. $(BIN)/python training/train_digits.py --out $(TRAIN_OUT)/digits-drawn.onnx
	PYTHONPATH=. $(BIN)/python training/harvest_lines.py --seeds 0-1500 \
		--digits $(TRAIN_OUT)/digits-drawn.onnx --out $(TRAIN_OUT)/crops-0.npz & \
	first=$$!; \
	PYTHONPATH=. $(BIN)/python training/harvest_lines.py --seeds 1500-3000 \
		--digits $(TRAIN_OUT)/digits-drawn.onnx --out $(TRAIN_OUT)/crops-1.npz; \
	second=$$?; wait $$first && [ $$second -eq 0 ]
	PYTHONPATH=. $(BIN)/python training/train_digits.py --crops $(CROPS)
	PYTHONPATH=. $(BIN)/python training/train_lines.py --crops $(CROPS)

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
