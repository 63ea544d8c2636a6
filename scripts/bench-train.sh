#!/usr/bin/env bash
# One training step of the reference Qwen2 configuration (forward + backward + clip + AdamW):
# Tessera's CPU backend against libtorch CPU in the same process, at 1 thread and at all cores.
# Record results in docs/benchmarks.md ("Training step").
set -euo pipefail
cd "$(dirname "$0")/.."
jar=bench/target/tessera-bench.jar
[ -f "$jar" ] || ./mvnw -q -B install -pl bench -am -DskipTests
# libgomp's threads spin-wait between parallel regions; on a shared machine (other processes on
# the same cores, Tessera's threads in the same process) that makes libtorch slower at 2 threads
# than at 1. Passive waiting is libtorch's best case here; override to measure the default.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
echo "OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
uptime
java --add-modules jdk.incubator.vector -XX:PerMethodTrapLimit=10000 -Xmx4g -XX:+UseParallelGC -XX:+UseTransparentHugePages \
  -cp "$jar" \
  dev.tessera.bench.TrainStepBenchmark "$@" 2>&1 \
  | grep -v -e '^WARNING: Using incubator modules' -e '^Warning: Version of org.bytedeco'
uptime
