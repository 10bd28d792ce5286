# The targets here are exactly what CI runs (.ci/run calls `make ci`).
.PHONY: ci fmt clippy test run sample

ci: fmt clippy test

fmt:
	cargo fmt --all -- --check

clippy:
	cargo clippy --all-targets -- -D warnings

test:
	cargo test

# Not part of CI: the main job on the bundled sample, and regenerating the sample.
run:
	cargo run -- run

sample:
	cargo run -- synth --out sample --seed 2024
