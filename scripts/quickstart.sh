#!/usr/bin/env bash
# Quick start: builds the curator worker, generates synthetic image-text shards with injected
# content defects (the ground truth for curation filters, recorded in each key.json), then reads
# them back, checking the manifest's checksums and reporting any damage to the shards themselves.
# Output goes to work/quickstart/. QUICKSTART_SAMPLES sets the sample count (default 10000).
set -euo pipefail
cd "$(dirname "$0")/.."

samples=${QUICKSTART_SAMPLES:-10000}
shards=4
per_shard=$(( (samples + shards - 1) / shards ))
out=work/quickstart
jar=curator-image/target/tessera-curator.jar

if [ ! -f "$jar" ] || [ -n "$(find libs curator-image -name '*.java' -newer "$jar" -print -quit)" ]; then
  echo "== building the curator worker ($jar)"
  ./mvnw -q -B package -DskipTests
fi

rm -rf "$out/raw"
echo "== generating $((shards * per_shard)) synthetic samples in $out/raw (10% with defects)"
java -jar "$jar" synth --out "$out/raw" --shards "$shards" --samples-per-shard "$per_shard" \
  --seed 2026 --defects 0.1

echo "== reading them back"
java -jar "$jar" inspect "$out/raw" --show 10
echo "== done: shards, manifest.json and per-sample ground truth (key.json) are in $out/raw"
