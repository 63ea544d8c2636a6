package dev.tessera.operator;

import dev.tessera.api.v1alpha1.CheckpointRecord;
import dev.tessera.api.v1alpha1.Conditions;
import dev.tessera.api.v1alpha1.DistributedSpec;
import dev.tessera.api.v1alpha1.Phase;
import dev.tessera.api.v1alpha1.Progress;
import dev.tessera.api.v1alpha1.TesseraStatus;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.CustomResource;
import io.javaoperatorsdk.operator.processing.event.source.IndexerResourceCache;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * The {@code tessera_*} gauges (DESIGN.md §7), one series per resource, rebuilt from the
 * controllers' informer caches on a timer. Rebuilding from the caches (instead of updating on each
 * reconcile) means a deleted resource's series disappear with it, and a thousand resources cost one
 * pass per refresh, not one per event.
 */
@ApplicationScoped
public class TesseraMetrics {
  private static final Logger LOG = Logger.getLogger(TesseraMetrics.class);

  private final MeterRegistry registry;
  private final OperatorConfig config;
  private final List<IndexerResourceCache<?>> caches = new CopyOnWriteArrayList<>();
  private final Map<String, MultiGauge> gauges = new HashMap<>();
  private ScheduledExecutorService timer;

  public TesseraMetrics(MeterRegistry registry, OperatorConfig config) {
    this.registry = registry;
    this.config = config;
  }

  void start(@Observes StartupEvent event) {
    timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "tessera-metrics");
              t.setDaemon(true);
              return t;
            });
    long period = config.metricsRefresh().toMillis();
    timer.scheduleWithFixedDelay(this::refreshQuietly, period, period, TimeUnit.MILLISECONDS);
  }

  void stop(@Observes ShutdownEvent event) {
    if (timer != null) {
      timer.shutdownNow();
    }
  }

  /** Adds a controller's primary cache to what the gauges describe. */
  void watch(IndexerResourceCache<?> cache) {
    caches.add(cache);
  }

  private void refreshQuietly() {
    try {
      refresh();
    } catch (RuntimeException e) {
      LOG.warnf(e, "metrics refresh failed");
    }
  }

  /** Rebuilds every series from the caches. */
  synchronized void refresh() {
    Map<String, List<MultiGauge.Row<?>>> rows = new HashMap<>();
    Instant now = Instant.now();
    for (IndexerResourceCache<?> cache : caches) {
      cache.list().forEach(resource -> rows(resource, now, rows));
    }
    for (String name : METRICS) {
      MultiGauge gauge =
          gauges.computeIfAbsent(name, n -> MultiGauge.builder(n).register(registry));
      gauge.register(rows.getOrDefault(name, List.of()), true);
    }
  }

  private static final List<String> METRICS =
      List.of(
          "tessera.resource.phase",
          "tessera.progress.percent",
          "tessera.progress.updated.timestamp.seconds",
          "tessera.restarts",
          "tessera.disruptions",
          "tessera.waiting.seconds",
          "tessera.training.step",
          "tessera.training.loss",
          "tessera.training.tokens.per.second",
          "tessera.training.mfu",
          "tessera.training.mfu.target",
          "tessera.checkpoint.timestamp.seconds",
          "tessera.checkpoint.interval.seconds",
          "tessera.curation.samples",
          "tessera.curation.kept",
          "tessera.curation.unreadable",
          "tessera.curation.rejected");

  @SuppressWarnings("unchecked")
  private static void rows(
      HasMetadata resource, Instant now, Map<String, List<MultiGauge.Row<?>>> rows) {
    TesseraStatus status = ((CustomResource<?, TesseraStatus>) resource).getStatus();
    Object spec = ((CustomResource<?, TesseraStatus>) resource).getSpec();
    Tags tags =
        Tags.of(
            "kind", resource.getKind(),
            "namespace", resource.getMetadata().getNamespace(),
            "name", resource.getMetadata().getName());
    Phase phase = status == null || status.phase == null ? Phase.Pending : status.phase;
    add(rows, "tessera.resource.phase", tags.and("phase", phase.name()), 1);
    if (status == null) {
      return;
    }
    add(rows, "tessera.restarts", tags, status.restarts == null ? 0 : status.restarts);
    add(rows, "tessera.disruptions", tags, status.disruptions == null ? 0 : status.disruptions);
    double waiting = 0;
    Condition input = status.condition(Conditions.INPUT_READY);
    if (phase == Phase.Waiting && input != null) {
      Instant since = instant(input.getLastTransitionTime());
      waiting = since == null ? 0 : Math.max(0, now.getEpochSecond() - since.getEpochSecond());
    }
    add(rows, "tessera.waiting.seconds", tags, waiting);
    Progress p = status.progress;
    if (p != null) {
      addIf(rows, "tessera.progress.percent", tags, p.percent);
      Instant updated = instant(p.lastUpdated);
      if (updated != null) {
        add(rows, "tessera.progress.updated.timestamp.seconds", tags, updated.getEpochSecond());
      }
      addIf(rows, "tessera.training.step", tags, p.step);
      addIf(
          rows,
          "tessera.training.loss",
          tags,
          Boolean.FALSE.equals(p.lossFinite) ? Double.valueOf(Double.NaN) : p.loss);
      addIf(rows, "tessera.training.tokens.per.second", tags, p.tokensPerSecond);
      addIf(rows, "tessera.training.mfu", tags, p.mfu);
      addIf(rows, "tessera.curation.unreadable", tags, p.unreadable);
      if ("CurationJob".equals(resource.getKind())) {
        addIf(rows, "tessera.curation.samples", tags, p.samples);
        addIf(rows, "tessera.curation.kept", tags, p.kept);
        if (p.rejections != null) {
          p.rejections.forEach(
              (reason, count) ->
                  add(rows, "tessera.curation.rejected", tags.and("reason", reason), count));
        }
      }
    }
    if (spec instanceof DistributedSpec training) {
      if (training.training != null) {
        addIf(rows, "tessera.training.mfu.target", tags, training.training.mfuTarget);
      }
      CheckpointRecord latest = status.latestCheckpoint;
      Instant written = latest == null ? null : instant(latest.time);
      if (written != null) {
        add(rows, "tessera.checkpoint.timestamp.seconds", tags, written.getEpochSecond());
      }
      if (p != null
          && p.secondsPerStep != null
          && training.checkpoints != null
          && training.checkpoints.every != null) {
        add(
            rows,
            "tessera.checkpoint.interval.seconds",
            tags,
            p.secondsPerStep * training.checkpoints.every);
      }
    }
  }

  private static void addIf(
      Map<String, List<MultiGauge.Row<?>>> rows, String name, Tags tags, Number value) {
    if (value != null) {
      add(rows, name, tags, value);
    }
  }

  private static void add(
      Map<String, List<MultiGauge.Row<?>>> rows, String name, Tags tags, Number value) {
    rows.computeIfAbsent(name, n -> new ArrayList<>()).add(MultiGauge.Row.of(tags, value));
  }

  private static Instant instant(String text) {
    if (text == null) {
      return null;
    }
    try {
      return Instant.parse(text);
    } catch (DateTimeParseException e) {
      return null;
    }
  }
}
