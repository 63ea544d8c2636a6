#!/usr/bin/env bash
# Builds the CUDA kernels into the engine's classes directory (called by Maven, generate-resources):
#   tessera-kernels.cu      every src/main/cuda/*.cu in one translation unit, for NVRTC at run time
#   tessera-kernels.fatbin  SASS for sm_80 (A100) and sm_90 (H100/H200) plus compute_90 PTX for
#                           newer GPUs, when nvcc is installed
# Without nvcc the build goes on (the backend compiles the source with NVRTC when it starts),
# unless TESSERA_REQUIRE_NVCC=1 (CI), where a missing nvcc or a kernel that does not compile fails.
set -euo pipefail
out=${1:?usage: build-kernels.sh OUTPUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
source="$out/tessera-kernels.cu"
{
  echo "// Generated from libs/engine/src/main/cuda/*.cu: one translation unit, no includes."
  for f in "$here"/*.cu; do
    echo "// ---- $(basename "$f")"
    cat "$f"
  done
} >"$source.tmp"
mv "$source.tmp" "$source"

nvcc=$(command -v nvcc || true)
if [[ -z "$nvcc" && -x /usr/local/cuda/bin/nvcc ]]; then nvcc=/usr/local/cuda/bin/nvcc; fi
if [[ -z "$nvcc" ]]; then
  if [[ "${TESSERA_REQUIRE_NVCC:-0}" == 1 ]]; then
    echo "build-kernels: nvcc not found and TESSERA_REQUIRE_NVCC=1" >&2
    exit 1
  fi
  echo "build-kernels: nvcc not found; kernels will be compiled by NVRTC at run time"
  rm -f "$out/tessera-kernels.fatbin"
  exit 0
fi
fatbin="$out/tessera-kernels.fatbin"
if [[ -f "$fatbin" && "$fatbin" -nt "$source" ]] && cmp -s "$source" "$out/.tessera-kernels.built"; then
  exit 0 # unchanged since the last build
fi
"$nvcc" -fatbin -O3 -std=c++17 -Werror all-warnings \
  -gencode arch=compute_80,code=sm_80 \
  -gencode arch=compute_90,code=sm_90 \
  -gencode arch=compute_90,code=compute_90 \
  -o "$fatbin.tmp" "$source"
mv "$fatbin.tmp" "$fatbin"
cp "$source" "$out/.tessera-kernels.built"
echo "build-kernels: $(basename "$fatbin") ($(stat -c %s "$fatbin") bytes) from $(ls "$here"/*.cu | wc -l) sources"
