#!/usr/bin/env bash
# Reconcile latency and heap of the operator with 1,000 resources against the Fabric8 mock API
# server (ReconcileBenchmark), next to the mock server's own create-to-watch latency.
# TESSERA_BENCH_RESOURCES and TESSERA_BENCH_RATE change the sizes; TESSERA_BENCH_PROFILE=1 also
# records the run with Java Flight Recorder and prints the hottest frames.
set -euo pipefail
cd "$(dirname "$0")/.."
./mvnw -q -B -pl api install -DskipTests
argline=(-Dsurefire.argLine="-Xmx2g -XX:+UseParallelGC")
if [ "${TESSERA_BENCH_PROFILE:-0}" = 1 ]; then
  jfr_file="$(mktemp -d)/reconcile.jfr"
  argline=(-Dsurefire.argLine="-Xmx2g -XX:+UseParallelGC -XX:StartFlightRecording=filename=$jfr_file,settings=profile")
fi
./mvnw -B -pl operator test -Dtest=ReconcileBenchmark -DexcludedTestGroups= -Dsurefire.failIfNoSpecifiedTests=false \
  -Dbench.resources="${TESSERA_BENCH_RESOURCES:-1000}" -Dbench.rate="${TESSERA_BENCH_RATE:-20}" "${argline[@]}" 2>&1 \
  | sed -n "/reconcile benchmark/,/heap after GC/p"
if [ -n "${jfr_file:-}" ]; then
  echo "hottest frames (top of stack) in $jfr_file:"
  jfr print --events jdk.ExecutionSample "$jfr_file" \
    | awk '/stackTrace = \[/ {getline; sub(/^[ \t]+/, ""); sub(/\(.*/, ""); print}' \
    | sort | uniq -c | sort -rn | head -12
fi
