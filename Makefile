# Blip2Lab: the README's two commands are `make quickstart` and `make test`.
# Both install the Debian packages Blip2Lab links against when they are missing.

SWIFT ?= swift
APT_PACKAGES = libopenblas-dev liblua5.4-dev libgraphviz-dev pkg-config
SUDO = $(shell [ "$$(id -u)" = "0" ] || echo sudo)
RELEASE = -c release
TEST_FLAGS = -c release -Xswiftc -enable-testing

.PHONY: deps build quickstart test bench clean

## deps: install the C libraries (OpenBLAS, Lua 5.4, Graphviz) if pkg-config cannot find them.
deps:
	@if pkg-config --exists openblas lua5.4 libgvc 2>/dev/null; then \
	  echo "deps: OpenBLAS, Lua 5.4 and Graphviz are installed"; \
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

clean:
	rm -rf .build
