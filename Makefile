# Blip2Lab: the README's two commands are `make quickstart` and `make test`.
# Both install the Debian packages Blip2Lab links against when they are missing.

SWIFT ?= swift
APT_PACKAGES = libopenblas-dev liblua5.4-dev libgraphviz-dev libpng-dev libjpeg62-turbo-dev pkg-config
SUDO = $(shell [ "$$(id -u)" = "0" ] || echo sudo)
RELEASE = -c release
TEST_FLAGS = -c release -Xswiftc -enable-testing
# The command `make docs` draws with (override to use a binary already built: BLIP2LAB=.build/release/blip2lab).
BLIP2LAB ?= $(SWIFT) run $(RELEASE) blip2lab
DOCS_IMAGES = docs/images

.PHONY: deps build quickstart test bench docs clean

## deps: install the C libraries (OpenBLAS, Lua 5.4, Graphviz, libpng, libjpeg-turbo) if pkg-config cannot find them.
deps:
	@if pkg-config --exists openblas lua5.4 libgvc libpng libjpeg 2>/dev/null; then \
	  echo "deps: OpenBLAS, Lua 5.4, Graphviz, libpng and libjpeg-turbo are installed"; \
	else \
	  echo "deps: installing $(APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); \
	fi

## build: a release build of the blip2lab command.
build: deps
	$(SWIFT) build $(RELEASE) --product blip2lab

## quickstart: the main job: BLIP-2's two stages end to end on the built-in Shapes data (Experiments/quickstart.lua).
quickstart: build
	$(SWIFT) run $(RELEASE) blip2lab run Experiments/quickstart.lua

## test: the whole test suite, in release mode (numeric code is 10-50x slower in debug).
test: deps
	$(SWIFT) test $(TEST_FLAGS)

## bench: the op benchmarks with the PyTorch baseline when torch is importable.
bench: build
	$(SWIFT) run $(RELEASE) blip2lab bench ops

## docs: redraws the README's pictures in docs/images/ with the commands themselves: the paper's three masks,
## the paper's pipeline, the sandbox Q-Former's inside, and where the 32 queries of a small trained run look
## (Experiments/pictures.lua: trained once, a few minutes on 2 cores; a re-run restores it).
docs: deps
	mkdir -p $(DOCS_IMAGES)
	$(BLIP2LAB) masks --queries 6 --text 5 --text-valid 4 --format png --out $(DOCS_IMAGES)/masks
	$(BLIP2LAB) graph --preset paper --view pipeline --direction TB --format png --out $(DOCS_IMAGES)/pipeline-paper.png
	$(BLIP2LAB) graph --preset sandbox --view qformer --format png --out $(DOCS_IMAGES)/qformer-sandbox.png
	$(BLIP2LAB) run Experiments/pictures.lua
	$(BLIP2LAB) attention --run runs/pictures/queries/seed-1 --image shapes:test:10 --format png \
	  --out $(DOCS_IMAGES)/attention.png

clean:
	rm -rf .build
