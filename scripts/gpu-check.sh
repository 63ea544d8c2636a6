#!/usr/bin/env bash
# The GPU check of the CUDA backend, in two halves:
#
#   scripts/gpu-check.sh bundle   on the build machine: builds the trainer jar and a small Java
#                                 runtime (jlink) into .gpu-bundle/ (about 35 MiB; git-ignored)
#   scripts/gpu-check.sh run [ARGS]
#                                 on the GPU machine (no Java, no network needed): unpacks the
#                                 runtime, finds the CUDA 13 libraries (system or pip wheels),
#                                 and runs `tessera-trainer gpu-check ARGS`: every kernel against
#                                 the CPU backend, the NVRTC fallback, GEMM rates, timed
#                                 training steps of the Qwen2.5-1.5B decoder at 4096 tokens (and
#                                 again with the fp32 attention kernels, the baseline; SKIP_BASELINE=1
#                                 leaves it out), again with activation checkpointing
#                                 (SKIP_CHECKPOINTING=1 leaves it out), each with the memory plan
#                                 against the allocator's peak, and the trainer on both backends
#                                 (one rank, then two ranks with ZeRO-2 sharing the GPU); then
#                                 the CUDA images' library set gathered from this machine
#                                 (scripts/cuda-libraries.sh) and the kernel checks on it alone
#                                 (SKIP_IMAGE_LIBS=1 leaves it out).
#
# Output: the check's log on stdout and, when $OUT is set, $OUT/gpu-check.log.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bundle="$root/.gpu-bundle"
# The trainer comparison: the same short run on the CPU (bundle) and on the GPU (run).
# Four sequences held out: the held-out loss (a forward pass alone) is compared too.
TRAIN_ARGS=(--steps 8 --global-batch 4 --micro-batch 2 --lr 2e-3 --warmup 0.1 --checkpoint-every 4 --seed 3 --eval-sequences 4)
# ... and with two data-parallel ranks, the optimizer state and gradients sharded (ZeRO-2).
RANK_ARGS=(--ranks 2 --zero 2)

case "${1:-}" in
bundle)
  cd "$root"
  ./mvnw -B -q install -DskipTests -pl trainer-image -am
  rm -rf "$bundle" && mkdir -p "$bundle"
  cp trainer-image/target/tessera-trainer.jar "$bundle/"
  jlink --add-modules java.base,java.management,jdk.unsupported,jdk.incubator.vector,java.logging,java.desktop,java.xml,java.naming,java.sql \
    --strip-debug --no-header-files --no-man-pages --output "$bundle/jre"
  # This JDK's image decoders link the system's libjpeg and lcms2, which a GPU machine's image
  # need not have: they travel inside the runtime (its libraries find them through $ORIGIN).
  for lib in libjpeg.so.62 liblcms2.so.2; do
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ {print $NF; exit}')
    [[ -n "$path" ]] && cp -L "$path" "$bundle/jre/lib/"
  done
  tar czf "$bundle/jre.tgz" -C "$bundle" jre && rm -rf "$bundle/jre"
  # The trainer on both backends: a small packed set and the CPU run's metrics to compare with.
  ./mvnw -B -q install -DskipTests -pl curator-image -am
  scripts/fetch-fixtures.sh >/dev/null
  tokenizer=${TESSERA_TOKENIZER:-$HOME/.cache/tessera/tokenizer-qwen3-3.7.2/tokenizer.json}
  ref="$bundle/trainer"
  mkdir -p "$ref"
  java -jar curator-image/target/tessera-curator.jar synth --out "$ref/raw" --shards 1 \
    --samples-per-shard 160 --seed 7 --defects 0
  java -jar curator-image/target/tessera-curator.jar pack --input "$ref/raw" --out "$ref/packed" \
    --tokenizer "$tokenizer" --seq-len 512 --image-tokens 16 --image-size 64 --algorithm fill
  rm -rf "$ref/raw"
  java -jar trainer-image/target/tessera-trainer.jar pretrain "${TRAIN_ARGS[@]}" \
    --data "$ref/packed" --out "$ref/cpu-run" --backend cpu
  cp "$ref/cpu-run/metrics.jsonl" "$ref/cpu-metrics.jsonl" && rm -rf "$ref/cpu-run"
  # Two ranks with ZeRO-2: on one GPU they share it and exchange through the host collective.
  java -jar trainer-image/target/tessera-trainer.jar pretrain "${TRAIN_ARGS[@]}" "${RANK_ARGS[@]}" \
    --data "$ref/packed" --out "$ref/cpu-run" --backend cpu
  cp "$ref/cpu-run/metrics.jsonl" "$ref/cpu-ranks-metrics.jsonl" && rm -rf "$ref/cpu-run"
  du -sh "$bundle"/*
  ;;
run)
  shift
  # Per-step losses of a CPU run and a GPU run of the same training: compare LABEL CPU GPU.
  compare() {
    python3 - "$@" <<'PY' || echo "$1: no comparison"
import json, sys
label = sys.argv[1]
cpu = [json.loads(line) for line in open(sys.argv[2])]
gpu = [json.loads(line) for line in open(sys.argv[3])]
worst = 0.0
for c, g in zip(cpu, gpu):
    rel = abs(g["loss"] - c["loss"]) / abs(c["loss"])
    worst = max(worst, rel)
    print(f"step {c['step']:2d}  loss cpu {c['loss']:.5f}  cuda {g['loss']:.5f}  rel diff {rel:.1e}"
          f"  tokens/s cpu {c['tokens_per_s']:.0f} cuda {g['tokens_per_s']:.0f}")
print(f"{label}: {len(gpu)} of {len(cpu)} steps, worst relative loss difference {worst:.2e}")
held = [(c, g) for c, g in zip(cpu, gpu) if "eval_loss" in c and "eval_loss" in g]
worst_held = max((abs(g["eval_loss"] - c["eval_loss"]) / abs(c["eval_loss"]) for c, g in held), default=float("nan"))
print(f"{label}: held-out loss at {len(held)} steps, worst relative difference {worst_held:.2e}")
PY
  }
  [[ -f "$bundle/jre.tgz" ]] || { echo "no $bundle/jre.tgz: run 'scripts/gpu-check.sh bundle' on the build machine" >&2; exit 2; }
  work=$(mktemp -d)
  tar xzf "$bundle/jre.tgz" -C "$work"
  java="$work/jre/bin/java"
  # The CUDA 13 libraries: the system's, or those of the pip wheels (nvidia-cublas, -cuda-runtime,
  # -cuda-nvrtc, -nccl-cu13) inside the Python environment.
  libs=$(find /usr /opt /lib /lib64 /root /home \( -name 'libcudart.so.13' -o -name 'libcublasLt.so.13' \
    -o -name 'libnvrtc.so.13' -o -name 'libnccl.so.2' -o -name 'libcuda.so.1' \) -printf '%h\n' 2>/dev/null \
    | sort -u | paste -sd: || true)
  export LD_LIBRARY_PATH="${libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv || true
  log=${OUT:-$work}/gpu-check.log
  opts=(-Xmx48g -XX:+UseParallelGC --add-modules jdk.incubator.vector -XX:PerMethodTrapLimit=10000 -Dorg.bytedeco.javacpp.cachedir="$work/javacpp")
  trainer=("$java" "${opts[@]}" -jar "$bundle/tessera-trainer.jar")
  {
    if [[ "${SKIP_NVRTC:-0}" != 1 ]]; then
      echo "== NVRTC fallback: kernels compiled at run time =="
      TESSERA_CUDA_KERNELS=nvrtc timeout "${NVRTC_TIMEOUT:-120}" "${trainer[@]}" gpu-check --skip-training "$@" \
        | grep -E "device:|kernel checks|FAIL" || echo "NVRTC run failed (status $?)"
    fi
    echo "== fatbin: kernels built by nvcc =="
    timeout "${CHECK_TIMEOUT:-400}" "${trainer[@]}" gpu-check "$@" | tee "$work/fatbin.out" \
      || echo "gpu-check exited with status $?"
    if grep -q "FAIL" "$work/fatbin.out"; then
      # Same checks with every call on the legacy default stream, then with every copy to the
      # device waited for: failures that go away with the first are work queued outside the
      # backend's own stream, with the second the staging ring's bookkeeping (docs/cuda.md).
      for diagnostic in TESSERA_CUDA_STREAM=default TESSERA_CUDA_STAGING=wait; do
        echo "== checks failed: the kernel checks again with $diagnostic =="
        env "$diagnostic" timeout "${NVRTC_TIMEOUT:-120}" "${trainer[@]}" gpu-check --skip-training "$@" \
          | grep -E "device:|kernel checks|FAIL" || echo "run with $diagnostic failed (status $?)"
      done
    fi
    if [[ "${SKIP_BASELINE:-0}" != 1 ]]; then
      # The same training steps with the exact fp32 attention kernels: the tensor-core kernels'
      # gain, measured on the same card in the same script.
      echo "== baseline: training steps with TESSERA_CUDA_ATTENTION=fp32 =="
      TESSERA_CUDA_ATTENTION=fp32 timeout "${BASELINE_TIMEOUT:-200}" "${trainer[@]}" gpu-check --skip-kernels "$@" \
        | grep -E "device:|training steps|step [0-9]|tokens/s|MFU|attention" || echo "baseline run failed (status $?)"
    fi
    if [[ "${SKIP_CHECKPOINTING:-0}" != 1 ]]; then
      # Recomputing each layer in the backward: its cost in step time, its saving in memory.
      echo "== training steps with activation checkpointing =="
      timeout "${CHECKPOINTING_TIMEOUT:-150}" "${trainer[@]}" gpu-check --skip-kernels --activation-checkpointing "$@" \
        | grep -E "training steps|^step [0-9]|training step \(|memory \(|memory at the peak|^ +[0-9.]+ MiB" \
        || echo "checkpointing run failed (status $?)"
    fi
    echo "== the trainer with --backend cuda against the same run on the CPU =="
    ref="$bundle/trainer"
    timeout "${TRAIN_TIMEOUT:-200}" "${trainer[@]}" pretrain "${TRAIN_ARGS[@]}" --data "$ref/packed" \
      --out "$work/cuda-run" --backend cuda | tail -4 || echo "pretrain --backend cuda exited with status $?"
    compare "trainer cpu vs cuda" "$ref/cpu-metrics.jsonl" "$work/cuda-run/metrics.jsonl"
    echo "== two ranks with ZeRO-2 (${RANK_ARGS[*]}) on the GPU against the same on the CPU =="
    timeout "${TRAIN_TIMEOUT:-200}" "${trainer[@]}" pretrain "${TRAIN_ARGS[@]}" "${RANK_ARGS[@]}" \
      --data "$ref/packed" --out "$work/cuda-ranks-run" --backend cuda | tail -5 \
      || echo "pretrain --backend cuda ${RANK_ARGS[*]} exited with status $?"
    compare "two ranks cpu vs cuda" "$ref/cpu-ranks-metrics.jsonl" "$work/cuda-ranks-run/metrics.jsonl"
    if [[ "${SKIP_IMAGE_LIBS:-0}" != 1 ]]; then
      # What the CUDA worker images would carry (docs/images.md): the libraries gathered from this
      # machine by scripts/cuda-libraries.sh, their sizes, and the kernel checks with nothing else
      # on LD_LIBRARY_PATH (the driver comes from the system path, as in a GPU pod).
      echo "== the CUDA images' library set, gathered from this machine =="
      if "$root/scripts/cuda-libraries.sh" --out "$work/image-libs" --jar "$bundle/tessera-trainer.jar" \
          $(echo "$libs" | tr ':' ' '); then
        LD_LIBRARY_PATH="$work/image-libs" timeout "${NVRTC_TIMEOUT:-120}" "${trainer[@]}" gpu-check --skip-training "$@" \
          | grep -E "device:|kernel checks|NCCL|FAIL" || echo "kernel checks on the image's libraries failed (status $?)"
      fi
    fi
  } 2>&1 | tee "$log"
  ;;
*)
  echo "usage: scripts/gpu-check.sh bundle | run [gpu-check options]" >&2
  exit 2
  ;;
esac
