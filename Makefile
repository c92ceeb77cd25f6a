# fourdvar: the two commands of the README, and a few helpers.
# Both main targets install the missing system libraries first (scripts/install-system-deps.sh
# does nothing when they are present).

CARGO ?= cargo

.PHONY: run test deps lint check bench clean

## run: the main job — the default 4D-Var twin experiment (fourdvar demo), written to demo.nc
## with its picture demo.png
run: deps
	$(CARGO) run --release --locked -- demo --plot

## test: the whole test suite (release profile: the numerical tests need optimised code), then lint
test: deps
	$(CARGO) test --release --locked
	@$(MAKE) --no-print-directory lint

## deps: install libnetcdf, OpenBLAS/LAPACK, pkg-config and ncdump if missing
deps:
	@bash scripts/install-system-deps.sh

## lint: formatting and clippy, when those components are installed
lint:
	@if $(CARGO) fmt --version >/dev/null 2>&1; then $(CARGO) fmt --all -- --check; \
	  else echo "rustfmt not installed: skipping the format check"; fi
	@if $(CARGO) clippy --version >/dev/null 2>&1; then $(CARGO) clippy --release --locked --all-targets -- -D warnings; \
	  else echo "clippy not installed: skipping lints"; fi

## check: derivative checks of both models
check: deps
	$(CARGO) run --release --locked -- check --model models/lorenz96.toml
	$(CARGO) run --release --locked -- check --model models/lorenz63.toml

## bench: timings of Lorenz-96 steps and of a value-and-gradient sweep
bench: deps
	$(CARGO) run --release --locked -- bench

clean:
	$(CARGO) clean
