#!/usr/bin/env bash
# The GPU check of the CUDA backend, in two halves:
#
#   scripts/gpu-check.sh bundle   on the build machine: builds the trainer jar and a small Java
#                                 runtime (jlink) into .gpu-bundle/ (about 35 MiB; git-ignored)
#   scripts/gpu-check.sh run [ARGS]
#                                 on the GPU machine (no Java, no network needed): unpacks the
#                                 runtime, finds the CUDA 13 libraries (system or pip wheels),
#                                 and runs `tessera-trainer gpu-check ARGS`: every kernel against
#                                 the CPU backend, the NVRTC fallback, GEMM rates, and timed
#                                 training steps of the Qwen2.5-1.5B decoder at 4096 tokens.
#
# Output: the check's log on stdout and, when $OUT is set, $OUT/gpu-check.log.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bundle="$root/.gpu-bundle"

case "${1:-}" in
bundle)
  cd "$root"
  ./mvnw -B -q install -DskipTests -pl trainer-image -am
  rm -rf "$bundle" && mkdir -p "$bundle"
  cp trainer-image/target/tessera-trainer.jar "$bundle/"
  jlink --add-modules java.base,java.management,jdk.unsupported,jdk.incubator.vector,java.logging,java.desktop,java.xml,java.naming,java.sql \
    --strip-debug --no-header-files --no-man-pages --output "$bundle/jre"
  tar czf "$bundle/jre.tgz" -C "$bundle" jre && rm -rf "$bundle/jre"
  du -sh "$bundle"/*
  ;;
run)
  shift
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
  opts=(-Xmx48g -XX:+UseParallelGC --add-modules jdk.incubator.vector -Dorg.bytedeco.javacpp.cachedir="$work/javacpp")
  {
    echo "== NVRTC fallback: kernels compiled at run time =="
    TESSERA_CUDA_KERNELS=nvrtc timeout "${NVRTC_TIMEOUT:-120}" "$java" "${opts[@]}" -jar "$bundle/tessera-trainer.jar" gpu-check --skip-training "$@" \
      | grep -E "device:|kernel checks|FAIL" || echo "NVRTC run failed (status $?)"
    echo "== fatbin: kernels built by nvcc =="
    timeout "${CHECK_TIMEOUT:-400}" "$java" "${opts[@]}" -jar "$bundle/tessera-trainer.jar" gpu-check "$@" \
      || echo "gpu-check exited with status $?"
  } 2>&1 | tee "$log"
  ;;
*)
  echo "usage: scripts/gpu-check.sh bundle | run [gpu-check options]" >&2
  exit 2
  ;;
esac
