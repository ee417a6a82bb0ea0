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

# Every test: the policy natively, the host library, the CLI, real processes.
test: test-rust

# The Rust workspace's tests (release: the CLI is spawned hundreds of times).
test-rust:
    cargo test --release --locked --workspace

# Formatting and lints.
check:
    cargo fmt --all -- --check
    cargo clippy --release --locked --workspace --all-targets -- -D warnings

# Benchmarks (issue 5): the library, the CLI and a native floor in one run,
# beside the Python original (needs msgspec and filelock in .venv or python3,
# else skipped). Prints the table and writes it into BENCHMARKS.md.
bench:
    cargo bench --locked -p exlab-cache --bench exlab
