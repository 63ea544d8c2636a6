#!/usr/bin/env bash
# Data-path benchmarks. Each prints its figures and a ratio against a baseline measured in the
# same process. Record results in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
jar=curator-image/target/tessera-curator.jar
[ -f "$jar" ] || ./mvnw -q -B package -DskipTests
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== synthetic data: 10,000 samples (4 shards x 2,500), 10% defects"
start=$(date +%s.%N)
java -jar "$jar" synth --out "$out/raw" --shards 4 --samples-per-shard 2500 --seed 1 --defects 0.1 2>/dev/null
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v c="$(nproc)" \
  'BEGIN { printf "synth 10000 samples: %.1f s wall clock, JVM start included (%d cores)\n", e - s, c }'

echo
echo "== WebDataset read vs plain sequential reads: the synthetic shards (small images)"
java -cp "$jar" dev.tessera.curator.bench.ReadBenchmark --dir "$out/raw" --rounds 15

echo
echo "== WebDataset read vs plain sequential reads: 1 GB of web-sized samples (median 40 kB)"
java -cp "$jar" dev.tessera.curator.bench.ReadBenchmark

echo
echo "== uid lookups: memory-mapped .npy vs in-heap arrays (10^7 uids)"
java -cp "$jar" dev.tessera.curator.bench.UidLookupBenchmark
