#!/usr/bin/env bash
# Checkpoints written on their own thread while training goes on, against training waiting for
# each (--foreground-checkpoints), in the same script: the tiny preset with the Qwen2.5 vocabulary
# (113 MB checkpoints: weights and AdamW moments) on 512-token synthetic sequences, a checkpoint
# every CHECKPOINT_EVERY steps (default 2), runs alternating. Prints each run's wall time and the
# ratio. Record results in docs/benchmarks.md ("Checkpoints").
set -euo pipefail
cd "$(dirname "$0")/.."
curator=curator-image/target/tessera-curator.jar
trainer=trainer-image/target/tessera-trainer.jar
[ -f "$curator" ] && [ -f "$trainer" ] || ./mvnw -q -B package -DskipTests
scripts/fetch-fixtures.sh >/dev/null
tokenizer="$HOME/.cache/tessera/tokenizer-qwen3-3.7.2/tokenizer.json"
steps=${STEPS:-20}
every=${CHECKPOINT_EVERY:-2}
pairs=${PAIRS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
java_opts=(--add-modules jdk.incubator.vector -XX:PerMethodTrapLimit=10000 -XX:+UseParallelGC)
quiet() { grep -v -e '^WARNING: Using incubator modules' || true; }

java "${java_opts[@]}" -jar "$curator" synth --out "$work/raw" --shards 2 --samples-per-shard 400 \
  --seed 7 2>&1 | quiet | tail -1
java "${java_opts[@]}" -jar "$curator" pack --input "$work/raw" --out "$work/packed" \
  --tokenizer "$tokenizer" --seq-len 512 --image-tokens 16 --image-size 64 --algorithm fill 2>&1 \
  | quiet | tail -1

run() { # name, extra options; prints the wall time in seconds
  local out="$work/run-$1"
  rm -rf "$out"
  local start end
  start=$(date +%s.%N)
  java "${java_opts[@]}" -jar "$trainer" pretrain --data "$work/packed" --out "$out" \
    --steps "$steps" --global-batch 4 --micro-batch 2 --lr 2e-3 --checkpoint-every "$every" \
    --keep-last 2 "${@:2}" > "$work/log-$1" 2>&1
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }' 
}

echo "$steps steps, a checkpoint every $every, $pairs pairs of runs ($(nproc) cores)"
for pair in $(seq "$pairs"); do
  background=$(run background)
  foreground=$(run foreground --foreground-checkpoints)
  # The foreground run's checkpoint lines say how long each write took.
  written=$(sed -n 's/^checkpoint .* (\([0-9.]*\) s)$/\1/p' "$work/log-foreground" \
    | awk '{ s += $1 } END { printf "%.1f", s }')
  awk -v p="$pair" -v b="$background" -v f="$foreground" -v w="$written" 'BEGIN {
    printf "pair %d: background %.1f s, foreground %.1f s (%.1f s of it writing checkpoints), ratio %.3f\n",
      p, b, f, w, b / f }' 
done
