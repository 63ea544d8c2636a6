#!/usr/bin/env bash
# Engine benchmarks: Tessera's kernels against native baselines (OpenBLAS) in the same process,
# at 1 thread and at all cores. Record results in docs/benchmarks.md. The training step:
# scripts/bench-train.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
jar=bench/target/tessera-bench.jar
[ -f "$jar" ] || ./mvnw -q -B install -pl bench -am -DskipTests
java --add-modules jdk.incubator.vector -XX:PerMethodTrapLimit=10000 -cp "$jar" dev.tessera.bench.GemmBenchmark "$@" 2>&1 \
  | grep -v '^WARNING: Using incubator modules'
java --add-modules jdk.incubator.vector -XX:PerMethodTrapLimit=10000 -cp "$jar" dev.tessera.bench.AttentionBenchmark 1 2>&1 \
  | grep -v '^WARNING: Using incubator modules'
