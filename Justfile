# exlab-cache tasks. On a fresh machine, call them through ./run
# (it installs just and the wasm32-wasip2 target first).

set shell := ["bash", "-euo", "pipefail", "-c"]

cli := "target/release/exlab-cache"

# List the recipes.
default:
    @just --list

# Build the policy component and the host CLI (release).
build:
    cargo build --release --locked -p exlab-cache

# The main job on the shipped example: sync example/lab.yaml into example/data/local.
demo: build
    mkdir -p example/data/local
    {{cli}} sync example/lab.yaml
    @echo
    {{cli}} --root example/data/local equipment read CONFOCAL_01/.exlab-wizard/equipment.json
    @echo

# Every test: the policy natively, the host library, the CLI, real processes,
# and the Python package.
test: test-rust test-python

# The Rust workspace's tests (release: the CLI is spawned hundreds of times).
# The Python tools come first: some tests drive Python peers (filelock,
# py-minisign) as real processes.
test-rust: python-tools
    cargo test --release --locked --workspace

# The Python package's wheel (abi3, CPython 3.10+) into target/wheels. Built
# with the release profile, like `cargo test --release`: wasmtime is reused.
wheel: python-tools
    rm -f target/wheels/exlab_cache-*.whl
    .venv/bin/maturin build --release --locked -m python/Cargo.toml --out target/wheels

# The Python package's tests (python/tests), against the wheel installed in .venv.
test-python: wheel
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps target/wheels/exlab_cache-*.whl
    .venv/bin/python -m pytest -q -p no:cacheprovider python/tests

# The Python package against the Python original (figures for BENCHMARKS.md).
bench-python: wheel
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps target/wheels/exlab_cache-*.whl
    .venv/bin/python python/bench.py

# Python build and test tools in .venv (./run makes .venv; so does this).
[private]
python-tools:
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check maturin pytest msgspec filelock py-minisign

# Formatting and lints.
check:
    cargo fmt --all -- --check
    cargo clippy --release --locked --workspace --all-targets -- -D warnings

# Benchmarks (issue 5): the library, the CLI and a native floor in one run,
# beside the Python original (needs msgspec and filelock in .venv or python3,
# else skipped). Prints the table and writes it into BENCHMARKS.md.
bench:
    cargo bench --locked -p exlab-cache --bench exlab

# --- Reliability (issue 4; RELIABILITY.md). The suite runs short versions. ---

# Every step of a write failed in turn (the Faults seam), and a real ENOSPC on a tmpfs.
faults:
    cargo test --release --locked -p exlab-cache-tests --test faults -- --nocapture --test-threads=1

# KILLS real CLI writers SIGKILLed at random instants; prints the counts.
soak kills="3000":
    EXLAB_SOAK_KILLS={{kills}} cargo test --release --locked -p exlab-cache-tests --test crash -- --nocapture

# Property tests of the guest's decode/validation/stamping paths, CASES per property.
props cases="20000":
    PROPTEST_CASES={{cases}} cargo test --release --locked -p exlab-cache-policy --test props -- --nocapture

# Hostile guests and files: escapes, held locks, huge files and results, ungranted imports.
adversarial:
    cargo test --release --locked -p exlab-cache-tests --test adversarial -- --nocapture

# Exclusion against Python's filelock (uses the filelock package when installed).
exclusion:
    cargo test --release --locked -p exlab-cache-tests --test exclusion -- --nocapture

# Mixed load: THREADS threads + PROCESSES processes for SECS seconds; prints rates and latencies.
load secs="30" threads="4" processes="4":
    EXLAB_LOAD_SECS={{secs}} EXLAB_LOAD_THREADS={{threads}} EXLAB_LOAD_PROCESSES={{processes}} \
        cargo test --release --locked -p exlab-cache-tests --test load -- --nocapture

# libFuzzer on the guest's decode and validation paths (fuzz/, needs the
# nightly toolchain): each target for SECS seconds; prints the executions.
# Seeds in fuzz/seeds/<target>, crashes fixed in fuzz/regressions/<target>
# (both replayed first); what the fuzzer finds goes to the ignored fuzz/corpus.
fuzz secs="60":
    #!/usr/bin/env bash
    set -euo pipefail
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
    rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
    summary=""
    for t in $(cargo +nightly fuzz list); do
        mkdir -p fuzz/corpus/$t
        dirs="fuzz/corpus/$t fuzz/seeds/$t"
        [ -d fuzz/regressions/$t ] && dirs="$dirs fuzz/regressions/$t"
        log=$(mktemp)
        echo "== fuzz $t for {{secs}} s"
        if ! cargo +nightly fuzz run $t $dirs -- -max_total_time={{secs}} >"$log" 2>&1; then
            tail -n 60 "$log"; echo "fuzz $t: FAILED (input in fuzz/artifacts/$t/)"; exit 1
        fi
        done_line=$(grep -E '^Done [0-9]+ runs' "$log" | tail -n 1)
        echo "fuzz $t: $done_line"
        summary="$summary"$'\n'"  $t: $done_line"
        rm -f "$log"
    done
    echo "fuzz executions ({{secs}} s per target):$summary"

# All of the above, long versions: the figures of RELIABILITY.md.
reliability: faults adversarial exclusion (props "20000") (soak "3000") (load "30")
