# The two commands (see README):
#   make run    set everything up, train the lecture CNN on Fashion-MNIST, write runs/fashion-mnist/report.md
#   make test   set everything up, run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
EPOCHS ?= 8
RUN    ?= runs/fashion-mnist

.PHONY: run test setup data browser bench clean lint

run: setup data
	$(VENV)/bin/cnnlab train --data fashion-mnist --model lecture_cnn --epochs $(EPOCHS) --out $(RUN)
	@echo "Report: $(RUN)/report.md"

test: setup data browser
	$(PY) -m pytest tests src/cnnlab --doctest-modules

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: this version installs from the machine's local disk.
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e '.[all,test]'
	touch $@

# Browser tests (web demo, studio) drive Debian's Chromium with Playwright; ffmpeg makes the fake webcam's video.
browser:
	@command -v chromium >/dev/null && command -v ffmpeg >/dev/null \
	  || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
	      && (apt-get install -y -qq chromium ffmpeg >/dev/null \
	          || (apt-get update -qq && apt-get install -y -qq chromium ffmpeg >/dev/null))) \
	  || (echo "The browser tests need Chromium and ffmpeg: install them with: sudo apt-get install chromium ffmpeg"; exit 1)

# Fashion-MNIST: the Debian package if we may install it, else cnnlab downloads the official files.
data: setup
	@$(PY) -c "import cnnlab.data.sources as d; d.find_fashion_mnist()" 2>/dev/null \
	  || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
	      && (apt-get install -y -qq dataset-fashion-mnist >/dev/null \
	          || (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null))) \
	  || $(VENV)/bin/cnnlab datasets --fetch fashion-mnist

lint: setup
	$(VENV)/bin/ruff check src tests bench lessons

bench: setup data
	$(PY) bench/train_speed.py --baselines same,slide
	$(PY) bench/speed_options.py --accuracy

clean:
	rm -rf $(VENV) runs
