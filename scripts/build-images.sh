#!/usr/bin/env bash
# Builds Tessera's three container images without a Docker daemon or a registry pull:
#   ghcr.io/tessera-dev/tessera-curator:$IMAGE_TAG   (curator-image/Containerfile)
#   ghcr.io/tessera-dev/tessera-trainer:$IMAGE_TAG   (trainer-image/Containerfile)
#   ghcr.io/tessera-dev/tessera-operator:$IMAGE_TAG  (operator/src/main/docker/Containerfile)
# and, asked for by name, their CUDA variants (scripts/cuda.Containerfile):
#   ghcr.io/tessera-dev/tessera-trainer:$IMAGE_TAG-cuda13   (trainer-cuda)
#   ghcr.io/tessera-dev/tessera-curator:$IMAGE_TAG-cuda13   (curator-cuda)
# the worker image plus CUDA 13's runtime, cuBLAS, NVRTC and NCCL from CUDA_LIBS (directories or
# NVIDIA's wheels, gathered and checked by scripts/cuda-libraries.sh), for resources that ask for
# GPUs. The names are the ones the operator (TESSERA_*_IMAGE defaults) and the Helm chart default to.
#
# 1. The base, Debian bookworm with openjdk-17-jre-headless, is made once with mmdebstrap from the
#    Debian mirror and cached as a root-filesystem tar in $XDG_CACHE_HOME/tessera/images (default
#    ~/.cache/tessera/images/jre17-base.tar); it is imported as localhost/tessera-jre17:base, and
#    imported again only when the tar changed.
# 2. Each Containerfile is built with buildah (or podman build) with its module directory as the
#    context; the jars must already be built (./mvnw -B package -DskipTests).
# 3. --save DIR writes each image as a docker-archive tar (for `kind load image-archive`,
#    `podman load` or `docker load` on another machine).
# 4. --smoke runs each image once, read-only root filesystem, no network, non-root user.
#
# Usage: scripts/build-images.sh [--smoke] [--save DIR] [--rebuild-base]
#          [curator|trainer|operator|trainer-cuda|curator-cuda ...]
# Environment: IMAGE_TAG (default 0.1.0), IMAGE_PREFIX (default ghcr.io/tessera-dev),
#   DEBIAN_MIRROR (default http://deb.debian.org/debian), DEBIAN_SECURITY_MIRROR
#   (default http://deb.debian.org/debian-security; "none" leaves it out), PODMAN_RUNTIME (default
#   runc when installed), CONTAINERS_CONF (default: a file in the cache that turns off podman's
#   default ulimits and pids limit, which some sandboxed hosts cannot apply), CUDA_LIBS (for the
#   CUDA variants: directories or .whl files, separated by spaces).
# Works as root and as a normal user with rootless podman/buildah (mmdebstrap then runs in its
# unshare mode, which needs the same /etc/subuid range as rootless podman). docs/images.md has more.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "build-images: $*" >&2; exit 1; }
# Whatever a failed or interrupted run leaves behind (a partial base tar, smoke containers and
# volumes) is removed on exit.
cleanup=()
on_exit() { local c; for c in "${cleanup[@]}"; do eval "$c" >/dev/null 2>&1 || true; done; }
trap on_exit EXIT

smoke=false
save_dir=
rebuild_base=false
selected=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=true ;;
    --save) [ $# -ge 2 ] || die "--save needs a directory"; save_dir=$2; shift ;;
    --save=*) save_dir=${1#--save=} ;;
    --rebuild-base) rebuild_base=true ;;
    -h|--help) usage; exit 0 ;;
    curator|trainer|operator|trainer-cuda|curator-cuda) selected+=("$1") ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done
[ ${#selected[@]} -gt 0 ] || selected=(curator trainer operator)

tag=${IMAGE_TAG:-0.1.0}
prefix=${IMAGE_PREFIX:-ghcr.io/tessera-dev}
base_image=localhost/tessera-jre17:base
cache=${XDG_CACHE_HOME:-$HOME/.cache}/tessera/images
base_tar=$cache/jre17-base.tar
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

# Per image: module directory (the build context), Containerfile (relative to it), what must be
# built first (relative to it).
context_of() { case "$1" in curator*) echo curator-image ;; trainer*) echo trainer-image ;; operator) echo operator ;; esac; }
containerfile_of() { case "$1" in operator) echo src/main/docker/Containerfile ;; *) echo Containerfile ;; esac; }
artifact_of() {
  case "$1" in
    curator*) echo target/tessera-curator.jar ;;
    trainer*) echo target/tessera-trainer.jar ;;
    operator) echo target/quarkus-app/quarkus-run.jar ;;
  esac
}
image_of() {
  case "$1" in
    *-cuda) echo "$prefix/tessera-${1%-cuda}:$tag-cuda13" ;;
    *) echo "$prefix/tessera-$1:$tag" ;;
  esac
}
# A CUDA variant is built on its worker image: that one is built first, in the same run.
for name in "${selected[@]}"; do
  if [[ "$name" == *-cuda ]] && [[ " ${selected[*]} " != *" ${name%-cuda} "* ]]; then
    selected=("${name%-cuda}" "${selected[@]}")
  fi
done

# --- tools and the build outputs, checked before anything slow starts ----------------------------
command -v podman >/dev/null || die "podman is missing (Debian/Ubuntu: apt-get install podman buildah mmdebstrap runc)"
if command -v buildah >/dev/null; then build_cmd=(buildah bud); else build_cmd=(podman build); fi
missing=()
for name in "${selected[@]}"; do
  artifact="$(context_of "$name")/$(artifact_of "$name")"
  [ -f "$artifact" ] || missing+=("$artifact")
done
if [ ${#missing[@]} -gt 0 ]; then
  die "missing build output: ${missing[*]}
  build the jars first: ./mvnw -B package -DskipTests"
fi
# The CUDA libraries are gathered and checked against each jar's JNI glue before anything slow.
for name in "${selected[@]}"; do
  [[ "$name" == *-cuda ]] || continue
  [ -n "${CUDA_LIBS:-}" ] || die "$name needs CUDA_LIBS: directories or NVIDIA wheels holding CUDA 13's runtime, cuBLAS, NVRTC and NCCL (see scripts/cuda-libraries.sh --help)"
  libs=$cache/cuda-libs-$name
  # shellcheck disable=SC2086 # CUDA_LIBS is a list
  scripts/cuda-libraries.sh --out "$libs" --jar "$(context_of "$name")/$(artifact_of "$name")" $CUDA_LIBS \
    || die "$name: the CUDA libraries are incomplete (above)"
done

# podman's default ulimits (RLIMIT_NOFILE) and pids limit fail on some sandboxed hosts (hybrid
# cgroups, VMs); turning them off changes nothing that these short runs need. A CONTAINERS_CONF
# set by the caller wins. The file is written (not appended) every time: idempotent.
if [ -z "${CONTAINERS_CONF:-}" ]; then
  mkdir -p "$cache"
  printf '[containers]\ndefault_ulimits = []\npids_limit = 0\n' > "$cache/containers.conf"
  export CONTAINERS_CONF=$cache/containers.conf
fi
# crun (podman's default on Debian) cannot run containers under hybrid cgroups; runc can.
runtime=${PODMAN_RUNTIME-}
if [ -z "${PODMAN_RUNTIME+set}" ] && command -v runc >/dev/null; then runtime=runc; fi
run_opts=(--network=none)
[ -n "$runtime" ] && run_opts=(--runtime "$runtime" "${run_opts[@]}")

# --- 1. the base image -----------------------------------------------------------------------------
if $rebuild_base || [ ! -s "$base_tar" ]; then
  command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (apt-get install mmdebstrap)"
  mkdir -p "$cache"
  echo "== building the JRE base with mmdebstrap -> $base_tar"
  sources=("deb $mirror bookworm main" "deb $mirror bookworm-updates main")
  [ "$security_mirror" = none ] || sources+=("deb $security_mirror bookworm-security main")
  tmp_tar=$cache/jre17-base.partial-$$.tar
  cleanup+=("rm -rf '$tmp_tar'")
  # --variant=apt: Debian's essential set plus apt, and the JRE with its dependencies (which bring
  # ca-certificates-java, so the JVM trusts the system CAs). Docs (but their copyright files) and
  # translations of programs' messages (34 MB; the JVM has its own) are left out. /usr/share/man
  # must stay: the JRE's postinst registers its man pages with update-alternatives and fails
  # without them. Mirrors are given explicitly: without them mmdebstrap reads sources from a
  # non-terminal stdin. The security suite gives the JRE its latest fixes.
  mmdebstrap --variant=apt --format=tar --include=openjdk-17-jre-headless,ca-certificates \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$tmp_tar" "${sources[@]}" </dev/null
  mv -f "$tmp_tar" "$base_tar"
fi

base_sum=$(sha256sum "$base_tar" | cut -c1-64)
current_sum=$(podman image inspect --format '{{ index .Labels "dev.tessera.base.sha256" }}' "$base_image" 2>/dev/null || true)
if [ "$current_sum" != "$base_sum" ]; then
  echo "== importing $base_tar as $base_image"
  arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
  podman import --quiet \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-$arch" \
    --change "ENV LANG=C.UTF-8" \
    --change "LABEL dev.tessera.base.sha256=$base_sum" \
    --change 'CMD ["java", "-version"]' \
    --message "Debian bookworm + openjdk-17-jre-headless (mmdebstrap)" \
    "$base_tar" "$base_image" >/dev/null
else
  echo "== $base_image is up to date with $base_tar"
fi

# --- 2. the images ---------------------------------------------------------------------------------
# --isolation chroot: the Containerfiles' one RUN step needs no namespaces or cgroups from the host.
# --pull=never: the base is local, and nothing should come from a registry.
# --layers: a rebuild with unchanged jars reuses every layer.
for name in "${selected[@]}"; do
  image=$(image_of "$name")
  echo "== building $image"
  if [[ "$name" == *-cuda ]]; then
    libs=$cache/cuda-libs-$name
    "${build_cmd[@]}" --isolation chroot --pull=never --layers \
      --build-arg "WORKER=$(image_of "${name%-cuda}")" --build-arg "VERSION=$tag" \
      --build-arg "TITLE=tessera-${name%-cuda}" --build-arg "CUDA_LIBRARIES=$(ls "$libs" | tr '\n' ' ' | sed 's/ $//')" \
      -f scripts/cuda.Containerfile -t "$image" "$libs" >/dev/null
    continue
  fi
  "${build_cmd[@]}" --isolation chroot --pull=never --layers \
    --build-arg "BASE=$base_image" --build-arg "VERSION=$tag" \
    -f "$(containerfile_of "$name")" -t "$image" "$(context_of "$name")" >/dev/null
done

echo "== images"
for name in "${selected[@]}"; do
  podman image inspect --format "{{ .Id }} {{ .Size }}" "$(image_of "$name")" \
    | awk -v n="$(image_of "$name")" '{ printf "   %-45s %s  %4.0f MB\n", n, substr($1, 1, 12), $2 / 1e6 }'
done

# --- 3. --save -------------------------------------------------------------------------------------
if [ -n "$save_dir" ]; then
  mkdir -p "$save_dir"
  for name in "${selected[@]}"; do
    out=$save_dir/$(basename "$(image_of "$name")" | tr : -).tar
    rm -f "$out"  # podman save refuses to overwrite
    podman save --quiet --format docker-archive -o "$out" "$(image_of "$name")"
    echo "   saved $out ($(du -m "$out" | cut -f1) MB)"
  done
fi

# --- 4. --smoke ------------------------------------------------------------------------------------
# Every run as the pods run: read-only root filesystem, a tmpfs /tmp, the pod's uid, no network.
expect() {  # LOG PATTERN...: prints the first line matching each pattern, fails when one is missing
  local log=$1; shift
  local pattern
  for pattern in "$@"; do
    grep -E -m1 -- "$pattern" "$log" | sed 's/^/   smoke: /' && continue
    echo "--- output:" >&2; cat "$log" >&2
    die "smoke test failed: no line matching '$pattern'"
  done
}

smoke_curator() {
  local image volume log
  image=$(image_of curator)
  # /tmp is a fresh tmpfs per container, so the two runs share a volume at /data instead, where the
  # operator mounts the storage volume (and the image's working directory). A new volume takes the
  # image's /data ownership (uid 1000).
  volume=tessera-smoke-$$
  log=$(mktemp)
  cleanup+=("podman volume rm -f '$volume'" "rm -f '$log'")
  podman volume create "$volume" >/dev/null
  local opts=(--rm "${run_opts[@]}" --read-only --tmpfs /tmp --user 1000:1000 -v "$volume:/data")
  podman run "${opts[@]}" "$image" synth --out /data/raw --shards 1 --samples-per-shard 8 --seed 1 >"$log" 2>&1 \
    || { cat "$log" >&2; die "smoke test failed: curator synth"; }
  podman run "${opts[@]}" "$image" inspect raw >>"$log" 2>&1 \
    || { cat "$log" >&2; die "smoke test failed: curator inspect"; }
  expect "$log" '^synth: wrote 8 samples' '^manifest: .*checksums match' '^problems: none' \
    'Using incubator modules: jdk.incubator.vector'
}

smoke_trainer() {
  local log
  log=$(mktemp)
  cleanup+=("rm -f '$log'")
  podman run --rm "${run_opts[@]}" --read-only --tmpfs /tmp --user 1000:1000 "$(image_of trainer)" --help >"$log" 2>&1 \
    || { cat "$log" >&2; die "smoke test failed: trainer --help"; }
  # The incubator warning shows the ENTRYPOINT's --add-modules reached the JVM.
  expect "$log" '^Usage: tessera-trainer' '^  pretrain ' 'Using incubator modules: jdk.incubator.vector'
}

smoke_operator() {
  local name log
  name=tessera-smoke-operator-$$
  log=$(mktemp)
  cleanup+=("podman rm -f '$name'" "rm -f '$log'")
  # No Kubernetes API is reachable (no network): the operator starts, registers its reconcilers,
  # then its informers fail and it exits. Only the start is checked.
  podman run -d --name "$name" "${run_opts[@]}" --read-only --tmpfs /tmp --user 185:185 \
    "$(image_of operator)" >/dev/null
  for _ in $(seq 1 60); do
    podman logs "$name" >"$log" 2>&1 || true
    grep -q "Operator SDK .* starting" "$log" && break
    [ "$(podman inspect --format '{{ .State.Running }}' "$name" 2>/dev/null)" = true ] || break
    sleep 1
  done
  podman rm -f -t 2 "$name" >/dev/null 2>&1 || true
  expect "$log" 'Quarkus Java Operator SDK extension' "Registered reconciler: 'curationjob'" \
    'Operator SDK .* starting'
}

# A CUDA variant: every bundled library resolves all it needs inside the image (its own loader and
# glibc, so a library built for a newer glibc fails here), and the worker's CUDA backend finds all
# but the driver's libcuda.so.1, which only a GPU node provides.
smoke_cuda() {
  local image log
  image=$(image_of "$1")
  log=$(mktemp)
  cleanup+=("rm -f '$log'")
  podman run --rm "${run_opts[@]}" --read-only --tmpfs /tmp --user 1000:1000 --entrypoint /bin/sh "$image" \
    -c 'echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"; for f in /opt/cuda/lib/*; do echo "library $f"; ldd "$f" 2>&1; done' \
    >"$log" 2>&1 || { cat "$log" >&2; die "smoke test failed: $1 libraries"; }
  if grep -E 'not found|No such file' "$log" >&2; then
    die "smoke test failed: $1 has libraries that cannot be resolved (above)"
  fi
  expect "$log" '^LD_LIBRARY_PATH=/opt/cuda/lib$' '^library /opt/cuda/lib/libcudart\.so\.13$' \
    '^library /opt/cuda/lib/libcublasLt\.so\.13$' '^library /opt/cuda/lib/libnvrtc\.so\.13$' \
    '^library /opt/cuda/lib/libnccl\.so\.2$'
  if [ "$1" = trainer-cuda ]; then
    podman run --rm "${run_opts[@]}" --read-only --tmpfs /tmp --user 1000:1000 "$image" gpu-check >"$log" 2>&1 || true
    expect "$log" 'cannot load the CUDA runtime .*libcuda\.so\.1'
  fi
}

if $smoke; then
  for name in "${selected[@]}"; do
    echo "== smoke test: $(image_of "$name")"
    if [[ "$name" == *-cuda ]]; then smoke_cuda "$name"; else "smoke_$name"; fi
  done
fi

echo "== done in $((SECONDS - started)) s"
