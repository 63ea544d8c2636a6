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
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
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
  private final Map<Meter.Id, Value> series = new HashMap<>();
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
    Map<String, List<Row>> rows = new HashMap<>();
    Instant now = Instant.now();
    for (IndexerResourceCache<?> cache : caches) {
      cache.list().forEach(resource -> rows(resource, now, rows));
    }
    // A gauge is registered once per series and then only its value changes: re-registering
    // thousands of meters on every refresh would cost more than the reconciles themselves.
    Map<Meter.Id, Value> seen = new HashMap<>();
    for (var entry : rows.entrySet()) {
      for (Row row : entry.getValue()) {
        Meter.Id id = new Meter.Id(entry.getKey(), row.tags(), null, null, Meter.Type.GAUGE);
        Value value =
            series.computeIfAbsent(
                id,
                k -> {
                  Value v = new Value();
                  Gauge.builder(k.getName(), v, Value::get)
                      .tags(k.getTagsAsIterable())
                      .register(registry);
                  return v;
                });
        value.set(row.value().doubleValue());
        seen.put(id, value);
      }
    }
    for (var it = series.entrySet().iterator(); it.hasNext(); ) {
      var e = it.next();
      if (!seen.containsKey(e.getKey())) {
        registry
            .find(e.getKey().getName())
            .tags(e.getKey().getTagsAsIterable())
            .gauges()
            .forEach(registry::remove);
        it.remove();
      }
    }
  }

  /** One series' latest value. */
  private static final class Value {
    private volatile double value;

    double get() {
      return value;
    }

    void set(double value) {
      this.value = value;
    }
  }

  /** One series of a refresh. */
  private record Row(Tags tags, Number value) {}

  @SuppressWarnings("unchecked")
  private static void rows(HasMetadata resource, Instant now, Map<String, List<Row>> rows) {
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
      addIf(rows, "tessera.training.eval.loss", tags, p.evalLoss);
      addIf(rows, "tessera.training.tokens.per.second", tags, p.tokensPerSecond);
      addIf(rows, "tessera.training.mfu", tags, p.mfu);
      addIf(rows, "tessera.training.skipped.steps", tags, p.skippedSteps);
      addIf(rows, "tessera.training.damaged.sequences", tags, p.damagedSequences);
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

  private static void addIf(Map<String, List<Row>> rows, String name, Tags tags, Number value) {
    if (value != null) {
      add(rows, name, tags, value);
    }
  }

  private static void add(Map<String, List<Row>> rows, String name, Tags tags, Number value) {
    rows.computeIfAbsent(name, n -> new ArrayList<>()).add(new Row(tags, value));
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
