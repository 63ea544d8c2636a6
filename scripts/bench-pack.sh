#!/usr/bin/env bash
# Packing benchmarks. Each prints its figures and a ratio against a baseline measured in the same
# process. Record results in docs/benchmarks.md ("Packing").
set -euo pipefail
cd "$(dirname "$0")/.."
curator=curator-image/target/tessera-curator.jar
bench=bench/target/tessera-bench.jar
[ -f "$curator" ] && [ -f "$bench" ] || ./mvnw -q -B install -DskipTests
scripts/fetch-fixtures.sh
tokenizer="$HOME/.cache/tessera/tokenizer-qwen3-3.7.2/tokenizer.json"
uptime

echo "== bin assignment: 10^6 caption samples, global FFD / BFD / exact fill vs the reference's per-shard FFD"
java -cp "$curator" dev.tessera.curator.bench.PackingBenchmark

echo
echo "== caption tokenisation, one thread: Java byte-level BPE vs the Rust tokenizers library (DJL)"
java -cp "$bench" dev.tessera.bench.TokenizerBenchmark "$tokenizer" 100000 5 2>&1 \
  | grep -v -e '^WARNING: Using incubator modules' -e '^Warning: Version of org.bytedeco'

echo
echo "== the pack worker end to end on synthetic shards: tokenising, image re-encoding, writing"
java -cp "$curator" dev.tessera.curator.bench.PackPipelineBenchmark "$tokenizer" 4000 5
uptime
