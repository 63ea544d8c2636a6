#!/usr/bin/env bash
# Gathers the CUDA 13 user-space libraries the CUDA backend loads into one directory, and checks
# that they are complete: every library that the backend's JNI glue (in the worker jar) needs, and
# every library those need in turn, is there, except the driver's libcuda.so.1, which the NVIDIA
# container toolkit (or the host) provides.
#
# Usage: scripts/cuda-libraries.sh --out DIR [--jar JAR] SOURCE...
#   SOURCE  a directory searched for the libraries (a CUDA toolkit's lib64, a Python environment's
#           site-packages/nvidia, an unpacked NVIDIA container image), or a wheel (.whl) of NVIDIA's
#           pip packages: nvidia-cuda-runtime, nvidia-cublas, nvidia-cuda-nvrtc and nvidia-nccl-cu13
#           for CUDA 13.
#   --out   where the libraries are copied, each under its soname: a new or empty directory, or one
#           this script filled before (its libraries are replaced)
#   --jar   the worker jar whose JNI glue is checked (default: the repository's
#           trainer-image/target/tessera-trainer.jar)
# Relative paths are taken from the current directory.
#
# The libraries: libcudart.so.13 (runtime), libcublas.so.13 and libcublasLt.so.13 (GEMMs),
# libnvrtc.so.13 with its libnvrtc-builtins.so.13.* (kernels for GPUs the built-in fatbin does not
# cover), libnccl.so.2 (several GPUs). Exit status 1, naming what is missing, when any is.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "cuda-libraries: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

out=
jar=$repo/trainer-image/target/tessera-trainer.jar
sources=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift ;;
    --jar) [ $# -ge 2 ] || die "--jar needs a file"; jar=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option '$1' (try --help)" ;;
    *) sources+=("$1") ;;
  esac
  shift
done
[ -n "$out" ] || die "--out DIR is required (try --help)"
[ ${#sources[@]} -gt 0 ] || die "no SOURCE given: a directory holding the CUDA 13 libraries, or NVIDIA's wheels (try --help)"
[ -f "$jar" ] || die "no worker jar at $jar: build it first (./mvnw -B package -DskipTests)"

# Sonames and dependencies from the ELF dynamic section: readelf's, or (machines without binutils,
# such as a GPU box with only Python; CUDA_LIBRARIES_ELF=python chooses it) a few lines of Python.
ELF_PY='
import struct, sys
want, path = sys.argv[1], sys.argv[2]
try:
    data = open(path, "rb").read()
except OSError:
    sys.exit(0)
if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
    sys.exit(0)  # not a 64-bit little-endian ELF file: no soname, no dependencies
phoff, = struct.unpack_from("<Q", data, 0x20)
phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
loads, dynamic = [], None
for i in range(phnum):
    p_type, _, p_offset, p_vaddr, _, p_filesz, _, _ = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
    if p_type == 1:
        loads.append((p_vaddr, p_offset, p_filesz))
    elif p_type == 2:
        dynamic = (p_offset, p_filesz)
if dynamic is None:
    sys.exit(0)
entries, strtab = [], None
for at in range(dynamic[0], dynamic[0] + dynamic[1], 16):
    tag, value = struct.unpack_from("<qQ", data, at)
    if tag == 0:
        break
    if tag == 5:
        strtab = next(off + value - va for va, off, size in loads if va <= value < va + size)
    entries.append((tag, value))
for tag, value in entries:
    if (tag == 1 and want == "NEEDED") or (tag == 14 and want == "SONAME"):
        end = data.index(b"\0", strtab + value)
        print(data[strtab + value:end].decode())
'
if command -v readelf >/dev/null && [ "${CUDA_LIBRARIES_ELF:-readelf}" != python ]; then
  soname() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }
  needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
elif command -v python3 >/dev/null; then
  soname() { python3 -c "$ELF_PY" SONAME "$1"; }
  needed() { python3 -c "$ELF_PY" NEEDED "$1"; }
else
  die "readelf or python3 is needed to read the libraries' sonames (apt-get install binutils)"
fi
# Wheels and the jar are zip files: unzip's, or Python's zipfile.
if command -v unzip >/dev/null && [ "${CUDA_LIBRARIES_ELF:-readelf}" != python ]; then
  unpack() { unzip -q -o "$1" "${@:3}" -d "$2"; }
  unpack_flat() { unzip -q -j -o "$1" "${@:3}" -d "$2"; }
else
  command -v python3 >/dev/null || die "unzip or python3 is needed to read wheels and the jar"
  # unpack ZIP DIR PATTERN...: the members matching a pattern; unpack_flat drops their folders.
  ZIP_PY='
import fnmatch, os, sys, zipfile
archive, target, flat, patterns = sys.argv[1], sys.argv[2], sys.argv[3] == "flat", sys.argv[4:]
found = 0
with zipfile.ZipFile(archive) as z:
    for name in z.namelist():
        if name.endswith("/") or not any(fnmatch.fnmatch(name, p) for p in patterns):
            continue
        out = os.path.join(target, os.path.basename(name) if flat else name)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(name) as src, open(out, "wb") as dst:
            dst.write(src.read())
        found += 1
sys.exit(0 if found else 11)
'
  unpack() { python3 -c "$ZIP_PY" "$1" "$2" tree "${@:3}"; }
  unpack_flat() { python3 -c "$ZIP_PY" "$1" "$2" flat "${@:3}"; }
fi

# The JNI glue of the CUDA backend: runtime, GEMMs, NVRTC, NCCL.
GLUE=(libjnicudart.so libjnicublas.so libjninvrtc.so libjninccl.so)
# What the glue loads, and what NVRTC opens at run time without naming it as a dependency.
WANTED=(libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libnvrtc.so.13 libnccl.so.2)
BUILTINS='libnvrtc-builtins.so.13.*'
# Libraries every Debian/Ubuntu base has (libc6, libstdc++6, libgcc-s1), and the driver.
SYSTEM_RE='^(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|ld-linux-x86-64)\.so\.[0-9]+$|^libcuda\.so\.1$'

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Wheels are zip files: their shared libraries are unpacked into the search.
search=()
for source in "${sources[@]}"; do
  if [ -d "$source" ]; then
    search+=("$source")
  elif [ -f "$source" ] && [[ "$source" == *.whl ]]; then
    dir=$work/wheels/$(basename "$source" .whl)
    mkdir -p "$dir"
    unpack "$source" "$dir" '*.so*' 2>/dev/null || echo "cuda-libraries: $source holds no shared library" >&2
    search+=("$dir")
  else
    die "SOURCE $source is neither a directory nor a .whl file"
  fi
done

# A file named like the soname (or a versioned name of it) whose ELF soname is exactly that.
find_library() {
  local name=$1 file
  while IFS= read -r file; do
    if [ "$(soname "$file")" = "$name" ] || [[ "$name" == libnvrtc-builtins* && "$(soname "$file")" == $name ]]; then
      echo "$file"
      return 0
    fi
  done < <(find -L "${search[@]}" -name "${name}*" \( -type f -o -type l \) 2>/dev/null | sort)
  return 1
}

# Only what this script puts there is replaced: anything else in --out is refused, not deleted.
if [ -e "$out" ]; then
  [ -d "$out" ] || die "--out $out is not a directory"
  others=$(find "$out" -mindepth 1 \( ! -type f -o ! -name 'lib*.so*' \) -print -quit)
  [ -z "$others" ] || die "--out $out holds other files than libraries ($others): give a new or empty directory"
  find "$out" -mindepth 1 -maxdepth 1 -type f -name 'lib*.so*' -delete
fi
mkdir -p "$out"
missing=()
for name in "${WANTED[@]}" "$BUILTINS"; do
  if file=$(find_library "$name"); then
    target=$out/$(soname "$file")
    cp -L "$file" "$target"
    chmod 0644 "$target"
  else
    missing+=("$name")
  fi
done

# Every dependency of the glue and of the libraries gathered must be gathered too, or the system's.
mkdir -p "$work/glue"
unpack_flat "$jar" "$work/glue" "${GLUE[@]/#/org/bytedeco/cuda/linux-x86_64/}" \
  || die "$jar lacks the CUDA JNI glue (${GLUE[*]})"
unresolved=()
for file in "$work"/glue/*.so "$out"/*; do
  [ -f "$file" ] || continue
  for dependency in $(needed "$file"); do
    if [ ! -f "$out/$dependency" ] && ! [[ "$dependency" =~ $SYSTEM_RE ]] \
      && ! [[ " ${missing[*]} " == *" $dependency "* ]]; then
      unresolved+=("$dependency (needed by $(basename "$file"))")
    fi
  done
done

if [ ${#missing[@]} -gt 0 ] || [ ${#unresolved[@]} -gt 0 ]; then
  {
    [ ${#missing[@]} -eq 0 ] || echo "cuda-libraries: not found in ${sources[*]}: ${missing[*]}"
    for u in "${unresolved[@]}"; do echo "cuda-libraries: unresolved: $u"; done
    echo "cuda-libraries: give directories or wheels holding CUDA 13's runtime, cuBLAS, NVRTC and NCCL"
    echo "  (pip download --no-deps nvidia-cuda-runtime nvidia-cublas nvidia-cuda-nvrtc nvidia-nccl-cu13"
    echo "   with versions for CUDA 13; or a CUDA 13 toolkit's lib64 plus NCCL's lib)"
  } >&2
  exit 1
fi

echo "cuda-libraries: $(ls "$out" | wc -l) libraries in $out ($(du -sm "$out" | cut -f1) MB):"
for file in "$out"/*; do
  printf '  %-32s %6d kB\n' "$(basename "$file")" $(($(stat -c %s "$file") / 1024))
done
