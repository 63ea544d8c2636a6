package dev.tessera.operator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.v1alpha1.PackJob;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.KubernetesServer;
import io.quarkus.test.kubernetes.client.KubernetesTestServer;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The operator's reconcile latency and heap at scale: 1,000 PackJobs created against the mock API
 * server, timed from each create call's return to the watch event of its child Job. The baseline,
 * in the same run, is the mock server itself: creating 1,000 Jobs directly and timing the same
 * watch event. Run with {@code scripts/bench-operator.sh}; prints figures, asserts only that every
 * Job appeared.
 */
@QuarkusTest
@WithKubernetesTestServer
@Tag("benchmark")
class ReconcileBenchmark {
  static final int RESOURCES = Integer.getInteger("bench.resources", 1000);

  /** Arrival rate of the paced rows, resources per second. */
  static final double RATE = Double.parseDouble(System.getProperty("bench.rate", "20"));

  @Inject KubernetesClient client;

  @KubernetesTestServer KubernetesServer mockServer;

  /** {@code .../namespaces/NS/KIND[/NAME[/status]]}: the kind, and a status subresource. */
  private static final Pattern NAMESPACED =
      Pattern.compile("/namespaces/[^/]+/([^/]+)(?:/[^/]+(/status)?)?$");

  private final java.util.List<String> trends = new java.util.ArrayList<>();

  @Test
  void thousandResources() throws Exception {
    String ns = client.getNamespace();
    StringBuilder report = new StringBuilder();
    report.append(
        String.format(
            "%nreconcile benchmark: %d resources per row, Fabric8 mock API server, one JVM%n",
            RESOURCES));
    // Warm-up, not measured: a long-running operator has its code compiled.
    int warmup = Integer.getInteger("bench.warmup", 100);
    for (int i = 0; i < warmup; i++) {
      client.resource(PretrainRunLifecycleTest.packJob("warmup-" + i)).create();
    }
    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofMinutes(2))
        .until(
            () ->
                client.batch().v1().jobs().inNamespace(ns).list().getItems().stream()
                        .filter(j -> j.getMetadata().getName().startsWith("warmup-"))
                        .count()
                    == warmup);
    report.append(String.format("  (after %d resources of warm-up, not measured)%n", warmup));
    requestsPerResource(warmup);
    // Paced first (the store is smallest), then the same as one burst.
    for (double rate : new double[] {RATE, 0}) {
      String mode = rate > 0 ? String.format("%.0f/s", rate) : "burst";
      double[] baseline =
          timeJobs(
              ns,
              "direct-" + (int) rate + "-",
              i -> directJob(ns, "direct-" + (int) rate + "-" + i),
              "",
              rate);
      requestsPerResource(RESOURCES);
      double[] operator =
          timeJobs(
              ns,
              "bench-" + (int) rate + "-",
              i -> {
                String name = "bench-" + (int) rate + "-" + i;
                PackJob pack = PretrainRunLifecycleTest.packJob(name);
                client.resource(pack).create();
              },
              "-pack",
              rate);
      Thread.sleep(1000); // the last status patches
      String operatorRequests = requestsPerResource(RESOURCES);
      report.append(
          String.format(
              "  %-6s operator: create -> child Job p50 %6.1f ms  p99 %7.1f ms | mock server alone: create Job -> seen p50 %5.1f ms  p99 %6.1f ms | p99 ratio %.1fx%n",
              mode,
              pct(operator, 50),
              pct(operator, 99),
              pct(baseline, 50),
              pct(baseline, 99),
              pct(operator, 99) / pct(baseline, 99)));
      report.append(String.format("    API requests per PackJob: %s%n", operatorRequests));
    }
    System.gc();
    Thread.sleep(500);
    System.gc();
    long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    trends.forEach(t -> report.append(t).append('\n'));
    report.append(
        String.format(
            "  heap after GC (operator + mock server + test, %d resources and their children held): %d MB%n",
            2 * RESOURCES, heap >> 20));
    System.out.println(report);
  }

  /**
   * The API requests the mock server received since the last call (watches count once, when they
   * open), per resource and by method and kind, e.g. {@code 7.0 (POST jobs 1.0, ...)}.
   */
  private String requestsPerResource(int resources) throws InterruptedException {
    Map<String, Integer> byKind = new java.util.TreeMap<>();
    int total = 0;
    RecordedRequest request;
    while ((request = mockServer.getKubernetesMockServer().takeRequest(1, TimeUnit.MILLISECONDS))
        != null) {
      String path = request.getPath().replaceAll("\\?.*", "");
      Matcher namespaced = NAMESPACED.matcher(path);
      String kind =
          namespaced.find()
              ? namespaced.group(1) + (namespaced.group(2) == null ? "" : namespaced.group(2))
              : path.substring(path.lastIndexOf('/') + 1);
      byKind.merge(request.getMethod() + " " + kind, 1, Integer::sum);
      total++;
    }
    StringBuilder text = new StringBuilder(String.format("%.1f (", (double) total / resources));
    byKind.forEach(
        (kind, count) -> text.append(String.format("%s %.2f, ", kind, (double) count / resources)));
    return text.substring(0, text.length() - 2) + ")";
  }

  private void directJob(String ns, String name) {
    client
        .batch()
        .v1()
        .jobs()
        .inNamespace(ns)
        .resource(
            new JobBuilder()
                .withNewMetadata()
                .withName(name)
                .withLabels(Map.of("bench", "direct"))
                .endMetadata()
                .withNewSpec()
                .withNewTemplate()
                .endTemplate()
                .endSpec()
                .build())
        .create();
  }

  interface Create {
    void create(int i) throws Exception;
  }

  /**
   * Creates RESOURCES objects one after another; milliseconds from each create to its Job's ADDED
   * event.
   */
  private double[] timeJobs(String ns, String prefix, Create create, String jobSuffix, double rate)
      throws Exception {
    Map<String, Long> created = new ConcurrentHashMap<>();
    Map<String, Long> seen = new ConcurrentHashMap<>();
    CountDownLatch all = new CountDownLatch(RESOURCES);
    Watch watch =
        client
            .batch()
            .v1()
            .jobs()
            .inNamespace(ns)
            .watch(
                new Watcher<Job>() {
                  @Override
                  public void eventReceived(Action action, Job job) {
                    String name = job.getMetadata().getName();
                    if (action == Action.ADDED
                        && name.startsWith(prefix)
                        && seen.putIfAbsent(name, System.nanoTime()) == null) {
                      all.countDown();
                    }
                  }

                  @Override
                  public void onClose(WatcherException cause) {}
                });
    try {
      long start = System.nanoTime();
      for (int i = 0; i < RESOURCES; i++) {
        if (rate > 0) {
          // A steady arrival rate: latency without a queue of a thousand at once.
          long due = start + (long) (i * 1e9 / rate);
          long wait = due - System.nanoTime();
          if (wait > 0) {
            Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
          }
        }
        long before = System.nanoTime();
        create.create(i);
        created.put(prefix + i + jobSuffix, before);
      }
      assertThat(all.await(5, TimeUnit.MINUTES)).as("every child Job appeared").isTrue();
    } finally {
      watch.close();
    }
    double[] latencies = new double[RESOURCES];
    for (int i = 0; i < RESOURCES; i++) {
      String key = prefix + i + jobSuffix;
      latencies[i] = (seen.get(key) - created.get(key)) / 1e6;
    }
    // As the mock server's store fills, each request gets slower: the first and last tenth.
    int tenth = Math.max(1, RESOURCES / 10);
    double[] early = Arrays.copyOfRange(latencies, 0, tenth);
    double[] late = Arrays.copyOfRange(latencies, RESOURCES - tenth, RESOURCES);
    Arrays.sort(early);
    Arrays.sort(late);
    trends.add(
        String.format(
            "    %s: first tenth p50 %.1f ms p99 %.1f ms, last tenth p50 %.1f ms p99 %.1f ms",
            prefix, pct(early, 50), pct(early, 99), pct(late, 50), pct(late, 99)));
    Arrays.sort(latencies);
    return latencies;
  }

  private static double pct(double[] sorted, int p) {
    int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
  }
}
