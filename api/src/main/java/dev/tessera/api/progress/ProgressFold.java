package dev.tessera.api.progress;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.api.v1alpha1.CheckpointRecord;
import dev.tessera.api.v1alpha1.Progress;
import dev.tessera.api.v1alpha1.TesseraStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Folds worker progress reports (a run's ConfigMap on a cluster, report files locally) into {@code
 * status.progress} and, for training, {@code status.checkpoints} and {@code
 * status.latestCheckpoint}. Each pod writes its own key ({@code progress-<completion index>.json})
 * in the format of {@code FileProgressReporter}; a key that does not parse is skipped, so one
 * broken worker cannot blank the others' figures.
 */
public final class ProgressFold {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Checkpoints listed in the status, newest last. */
  public static final int CHECKPOINTS_KEPT = 5;

  private ProgressFold() {}

  /**
   * The parsed reports by key ({@code progress-<index>.json}), in key order; values that do not
   * parse as a JSON object are left out.
   */
  public static Map<String, JsonNode> reports(Map<String, String> data) {
    Map<String, JsonNode> reports = new TreeMap<>();
    if (data == null) {
      return reports;
    }
    data.forEach(
        (key, value) -> {
          if (!key.endsWith(".json") || value == null || value.isBlank()) {
            return;
          }
          try {
            JsonNode node = JSON.readTree(value);
            if (node != null && node.isObject()) {
              reports.put(key, node);
            }
          } catch (Exception e) {
            // A half-written or foreign value: the other reports still count.
          }
        });
    return reports;
  }

  /** Training: rank 0 speaks for the run. */
  public static void training(TesseraStatus status, Map<String, JsonNode> reports) {
    JsonNode report = reports.getOrDefault("progress-0.json", reports.get("progress.json"));
    if (report == null) {
      return;
    }
    Progress p = base(status, report);
    JsonNode f = report.path("progress");
    p.step = longOr(f, "step", p.step);
    p.steps = longOr(f, "steps", p.steps);
    p.loss = doubleOr(f, "loss", p.loss);
    if (f.hasNonNull("loss")) {
      // JSON has no NaN: the trainer writes a non-finite loss as the string "NaN" or "Infinity".
      p.lossFinite = f.get("loss").isNumber() ? null : Boolean.FALSE;
    }
    p.lr = doubleOr(f, "lr", p.lr);
    p.gradNorm = doubleOr(f, "gradNorm", p.gradNorm);
    p.evalLoss = doubleOr(f, "evalLoss", p.evalLoss);
    p.tokensPerSecond = doubleOr(f, "tokensPerSecond", p.tokensPerSecond);
    p.mfu = doubleOr(f, "mfu", p.mfu);
    p.secondsPerStep = doubleOr(f, "secondsPerStep", p.secondsPerStep);
    p.skippedSteps = longOr(f, "skippedSteps", p.skippedSteps);
    p.damagedSequences = longOr(f, "damagedSequences", p.damagedSequences);
    if (f.hasNonNull("eta")) {
      p.eta = f.get("eta").asText();
    }
    if (p.step != null && p.steps != null && p.steps > 0) {
      p.percent = round(100.0 * p.step / p.steps);
    }
    List<CheckpointRecord> checkpoints = new ArrayList<>();
    for (JsonNode c : report.path("checkpoints")) {
      CheckpointRecord record = new CheckpointRecord();
      record.step = c.hasNonNull("step") ? c.get("step").asLong() : null;
      record.path = c.hasNonNull("path") ? c.get("path").asText() : null;
      record.loss = c.hasNonNull("loss") ? c.get("loss").asDouble() : null;
      record.time = c.hasNonNull("time") ? c.get("time").asText() : textOr(report, "updated");
      record.verified = c.hasNonNull("verified") ? c.get("verified").asBoolean() : null;
      record.evalLoss = c.hasNonNull("evalLoss") ? c.get("evalLoss").asDouble() : null;
      checkpoints.add(record);
      if (c.path("best").asBoolean(false)
          && (status.bestCheckpoint == null
              || status.bestCheckpoint.step == null
              || record.step == null
              || record.step >= status.bestCheckpoint.step)) {
        // The trainer marks each checkpoint that becomes the best; the newest such is the best.
        status.bestCheckpoint = record;
      }
    }
    if (!checkpoints.isEmpty()) {
      // Keep what was known: a restarted worker's first report lists only new checkpoints.
      List<CheckpointRecord> merged = new ArrayList<>();
      if (status.checkpoints != null) {
        for (CheckpointRecord old : status.checkpoints) {
          if (checkpoints.stream().noneMatch(c -> same(c, old))) {
            merged.add(old);
          }
        }
      }
      merged.addAll(checkpoints);
      merged.sort(
          (a, b) -> Long.compare(a.step == null ? -1 : a.step, b.step == null ? -1 : b.step));
      status.checkpoints =
          new ArrayList<>(
              merged.subList(Math.max(0, merged.size() - CHECKPOINTS_KEPT), merged.size()));
      status.latestCheckpoint = status.checkpoints.get(status.checkpoints.size() - 1);
    }
  }

  /** Packing: one worker, stages scan then write. */
  public static void packing(TesseraStatus status, Map<String, JsonNode> reports) {
    for (JsonNode report : reports.values()) {
      Progress p = base(status, report);
      JsonNode f = report.path("progress");
      p.stage = f.hasNonNull("stage") ? f.get("stage").asText() : p.stage;
      p.samples = longOr(f, "samples", p.samples);
      p.sequences = longOr(f, "sequences", p.sequences);
      p.dropped = longOr(f, "dropped", p.dropped);
      p.fillRatio = doubleOr(f, "fillRatio", p.fillRatio);
      p.lowerBoundSequences = longOr(f, "lowerBoundSequences", p.lowerBoundSequences);
      p.done = longOr(f, "shardsDone", p.done);
      p.total = longOr(f, "shards", p.total);
      if (f.has("fillRatio")) {
        p.percent = 100.0;
      } else if (p.total != null && p.total > 0 && p.done != null) {
        double share = (double) p.done / p.total;
        p.percent = round("write".equals(p.stage) ? 50 + 50 * share : 50 * share);
      }
    }
  }

  /**
   * Curation: the pods of the current stage each report their shards; their counters add up. {@code
   * stagesDone} of {@code stages} finished before it.
   */
  public static void curation(
      TesseraStatus status,
      Map<String, JsonNode> reports,
      String stage,
      int stagesDone,
      int stages) {
    long done = 0;
    long total = 0;
    long samples = 0;
    long kept = 0;
    long unreadable = 0;
    boolean any = false;
    Map<String, Long> rejections = null;
    Progress p = status.progress == null ? new Progress() : status.progress;
    for (JsonNode report : reports.values()) {
      JsonNode f = report.path("progress");
      String reported = f.hasNonNull("phase") ? f.get("phase").asText() : "select";
      if (f.has("rejections")) {
        // The select stage's totals over the whole pool.
        rejections = new TreeMap<>();
        for (var e : f.get("rejections").properties()) {
          rejections.put(e.getKey(), e.getValue().asLong());
        }
        p.samples = longOr(f, "samples", p.samples);
        p.kept = longOr(f, "kept", p.kept);
        base(status, report);
        continue;
      }
      if (!reported.equals(stage)) {
        continue;
      }
      any = true;
      base(status, report);
      done += f.path("done").asLong();
      total += f.path("total").asLong();
      samples += f.path("samples").asLong();
      kept += f.path("kept").asLong();
      unreadable += f.path("unreadable").asLong();
    }
    status.progress = p;
    p.stage = stage;
    if (rejections != null) {
      p.rejections = rejections;
    }
    if (any) {
      p.done = done;
      p.total = total;
      p.unreadable = unreadable;
      if (rejections == null || "score".equals(stage)) {
        p.samples = samples;
        p.kept = kept;
      }
    }
    double within = any && total > 0 ? (double) done / total : 0;
    p.percent = round(100.0 * (stagesDone + within) / stages);
  }

  private static Progress base(TesseraStatus status, JsonNode report) {
    if (status.progress == null) {
      status.progress = new Progress();
    }
    Progress p = status.progress;
    String updated = textOr(report, "updated");
    if (updated != null && (p.lastUpdated == null || updated.compareTo(p.lastUpdated) > 0)) {
      p.lastUpdated = updated;
    }
    String message = textOr(report, "message");
    if (message != null && !message.isBlank()) {
      p.message = message;
    }
    return p;
  }

  private static boolean same(CheckpointRecord a, CheckpointRecord b) {
    return a.step != null && a.step.equals(b.step);
  }

  private static Long longOr(JsonNode node, String field, Long fallback) {
    return node.hasNonNull(field) && node.get(field).isNumber()
        ? Long.valueOf(node.get(field).asLong())
        : fallback;
  }

  private static Double doubleOr(JsonNode node, String field, Double fallback) {
    if (!node.hasNonNull(field)) {
      return fallback;
    }
    JsonNode value = node.get(field);
    // Jackson writes NaN as a string; the status keeps numbers only.
    return value.isNumber() ? Double.valueOf(value.asDouble()) : fallback;
  }

  private static String textOr(JsonNode node, String field) {
    return node.hasNonNull(field) ? node.get(field).asText() : null;
  }

  private static double round(double percent) {
    return Math.round(percent * 10) / 10.0;
  }
}
