#!/usr/bin/env bash
# Reconcile latency and heap of the operator with 1,000 resources against the Fabric8 mock API
# server (ReconcileBenchmark), next to the mock server's own create-to-watch latency.
# TESSERA_BENCH_RESOURCES changes the count.
set -euo pipefail
cd "$(dirname "$0")/.."
./mvnw -q -B -pl api install -DskipTests
./mvnw -B -pl operator test -Dtest=ReconcileBenchmark -DexcludedTestGroups= -Dsurefire.failIfNoSpecifiedTests=false \
  -Dbench.resources="${TESSERA_BENCH_RESOURCES:-1000}" -Dbench.rate="${TESSERA_BENCH_RATE:-20}" 2>&1 | sed -n "/reconcile benchmark/,/heap after GC/p"
