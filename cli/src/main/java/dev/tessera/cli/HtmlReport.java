package dev.tessera.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.api.v1alpha1.TesseraStatus;
import dev.tessera.data.io.AtomicFiles;
import dev.tessera.data.scores.ScoreRow;
import dev.tessera.data.scores.ScoreTable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * {@code VOLUME/report.html}: one self-contained page (inline SVG, images as data URIs, no scripts)
 * with a section per stage — the curation funnel and attribute histograms, packing fill against the
 * lower bound, the loss and throughput curves, and captions the trained model writes for held-out
 * synthetic images.
 */
final class HtmlReport {
  private HtmlReport() {}

  static Path write(Path volume, Pipeline pipeline, LocalState state) throws IOException {
    StringBuilder html = new StringBuilder();
    html.append(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Tessera report</title><style>")
        .append("body{font:14px system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}")
        .append(
            "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:2em}")
        .append(
            "table{border-collapse:collapse}td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #eee}")
        .append(
            ".ok{color:#1a7f37}.bad{color:#cf222e}figure{display:inline-block;margin:8px;width:200px;vertical-align:top}")
        .append(
            "figure img{width:200px;height:200px;object-fit:cover;border:1px solid #ccc}figcaption{font-size:12px}")
        .append("</style></head><body><h1>Tessera report</h1>");
    html.append("<p>Volume <code>")
        .append(esc(volume.toAbsolutePath().normalize().toString()))
        .append("</code></p>");
    html.append(
        "<table><tr><th>Kind</th><th>Name</th><th>Phase</th><th>Started</th><th>Finished</th><th>Output</th></tr>");
    for (var e : state.entries().entrySet()) {
      TesseraStatus s = e.getValue().status();
      String[] id = e.getKey().split("/", 2);
      html.append("<tr><td>")
          .append(id[0])
          .append("</td><td>")
          .append(esc(id[1]))
          .append("</td><td class=\"")
          .append(s.phase != null && s.phase.name().equals("Succeeded") ? "ok" : "bad")
          .append("\">")
          .append(s.phase)
          .append("</td><td>")
          .append(or(s.startTime))
          .append("</td><td>")
          .append(or(s.completionTime))
          .append("</td><td>")
          .append(s.output == null ? "" : esc(s.output.path))
          .append("</td></tr>");
    }
    html.append("</table>");
    for (var e : state.entries().entrySet()) {
      String[] id = e.getKey().split("/", 2);
      JsonNode spec = e.getValue().spec();
      TesseraStatus status = e.getValue().status();
      html.append("<h2>").append(id[0]).append(' ').append(esc(id[1])).append("</h2>");
      switch (id[0]) {
        case "CurationJob" ->
            curation(html, volume.resolve(spec.path("output").path("path").asText()));
        case "PackJob" -> packing(html, volume.resolve(spec.path("output").asText()));
        default ->
            training(
                html,
                volume,
                volume.resolve(spec.path("output").asText()),
                status,
                tokenizer(volume, state));
      }
    }
    html.append("</body></html>\n");
    Path report = volume.resolve("report.html");
    AtomicFiles.write(report, html.toString().getBytes(StandardCharsets.UTF_8));
    return report;
  }

  private static void curation(StringBuilder html, Path out) throws IOException {
    Path statsFile = out.resolve("stats.json");
    if (!Files.exists(statsFile)) {
      html.append("<p>No stats yet (").append(esc(statsFile.toString())).append(").</p>");
      return;
    }
    JsonNode stats = LocalState.JSON.readTree(statsFile.toFile());
    long samples = stats.path("samples").asLong();
    long kept = stats.path("kept").asLong();
    html.append("<p>")
        .append(samples)
        .append(" samples in, <b>")
        .append(kept)
        .append(" kept</b> (")
        .append(pct(kept, samples))
        .append("), ")
        .append(samples - kept)
        .append(" rejected.</p>");
    Map<String, Double> funnel = new TreeMap<>();
    stats
        .path("rejections")
        .properties()
        .forEach(r -> funnel.put(r.getKey(), r.getValue().asDouble()));
    html.append("<h3>Rejected by filter</h3>").append(Svg.bars(funnel, "samples"));
    List<ScoreRow> rows = new ArrayList<>();
    Path scores = out.resolve("scores");
    if (Files.isDirectory(scores)) {
      try (Stream<Path> tables = Files.list(scores)) {
        for (Path table : tables.filter(t -> t.toString().endsWith(".parquet")).sorted().toList()) {
          rows.addAll(ScoreTable.read(table));
        }
      }
    }
    if (!rows.isEmpty()) {
      html.append("<h3>Scores and attributes of the pool</h3>");
      html.append(
          Svg.histogram(
              "image contrast (grey-level std. dev.)",
              rows.stream().mapToDouble(ScoreRow::contrast).toArray()));
      html.append(
          Svg.histogram(
              "shorter image side (px)",
              rows.stream().mapToDouble(r -> Math.min(r.width(), r.height())).toArray()));
      html.append(
          Svg.histogram(
              "caption words",
              rows.stream()
                  .filter(r -> r.caption() != null)
                  .mapToDouble(
                      r -> r.caption().isBlank() ? 0 : r.caption().trim().split("\\s+").length)
                  .toArray()));
      TreeMap<String, List<Double>> modelScores = new TreeMap<>();
      for (ScoreRow r : rows) {
        if (r.scores() != null) {
          r.scores()
              .forEach(
                  (k, v) -> {
                    if (v != null && !v.isNaN()) {
                      modelScores.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
                    }
                  });
        }
      }
      modelScores.forEach(
          (k, v) ->
              html.append(
                  Svg.histogram(
                      "score " + k, v.stream().mapToDouble(Double::doubleValue).toArray())));
    }
  }

  private static void packing(StringBuilder html, Path out) throws IOException {
    Path statsFile = out.resolve("stats.json");
    if (!Files.exists(statsFile)) {
      html.append("<p>No stats yet.</p>");
      return;
    }
    JsonNode s = LocalState.JSON.readTree(statsFile.toFile());
    long sequences = s.path("sequences").asLong();
    long bound = s.path("lower_bound_sequences").asLong();
    html.append("<p>")
        .append(s.path("samples").asLong())
        .append(" samples packed into <b>")
        .append(sequences)
        .append(" sequences</b> of ")
        .append(s.path("sequence_length").asLong())
        .append(" tokens (")
        .append(s.path("algorithm").asText())
        .append("): fill ratio <b>")
        .append(String.format(Locale.ROOT, "%.4f", s.path("fill_ratio").asDouble()))
        .append("</b>; the lower bound is ")
        .append(bound)
        .append(" sequences, ")
        .append(sequences - bound)
        .append(" above it; ")
        .append(s.path("dropped").asLong())
        .append(" dropped, ")
        .append(s.path("truncated").asLong())
        .append(" truncated")
        .append(
            s.path("not_chosen").asLong() + s.path("repeated").asLong() == 0
                ? ""
                : "; by the inputs' repeats, "
                    + s.path("not_chosen").asLong()
                    + " not chosen and "
                    + s.path("repeated").asLong()
                    + " packed again")
        .append(".</p>");
    Map<String, Double> bars = new java.util.LinkedHashMap<>();
    bars.put("lower bound", (double) bound);
    bars.put("packed", (double) sequences);
    html.append(Svg.bars(bars, "sequences"));
  }

  /** The tokenizer the pipeline used (a PackJob's or FinetuneRun's), for decoding captions. */
  private static Path tokenizer(Path volume, LocalState state) {
    for (LocalState.Entry e : state.entries().values()) {
      if (e.spec().hasNonNull("tokenizer")) {
        return volume.resolve(e.spec().get("tokenizer").asText());
      }
    }
    return null;
  }

  private static void training(
      StringBuilder html, Path volume, Path run, TesseraStatus status, Path tokenizer)
      throws IOException {
    Path metrics = run.resolve("metrics.jsonl");
    if (!Files.exists(metrics)) {
      html.append("<p>No metrics yet.</p>");
      return;
    }
    List<double[]> loss = new ArrayList<>();
    List<double[]> speed = new ArrayList<>();
    List<double[]> heldOut = new ArrayList<>();
    for (String line : Files.readAllLines(metrics)) {
      if (line.isBlank()) {
        continue;
      }
      JsonNode m = LocalState.JSON.readTree(line);
      double step = m.path("step").asDouble();
      if (m.path("loss").isNumber()) {
        loss.add(new double[] {step, m.path("loss").asDouble()});
      }
      if (m.path("eval_loss").isNumber()) {
        heldOut.add(new double[] {step, m.path("eval_loss").asDouble()});
      }
      if (m.path("tokens_per_s").isNumber()) {
        speed.add(new double[] {step, m.path("tokens_per_s").asDouble()});
      }
    }
    if (!loss.isEmpty()) {
      html.append(
          String.format(
              Locale.ROOT,
              "<p>%d steps; loss %.3f → <b>%.3f</b>.</p>",
              loss.size(),
              loss.get(0)[1],
              loss.get(loss.size() - 1)[1]));
    }
    if (!heldOut.isEmpty()) {
      html.append(
          String.format(
              Locale.ROOT,
              "<p>Loss on held-out sequences: %.3f at step %s → <b>%.3f</b> at step %s.</p>",
              heldOut.get(0)[1],
              Svg.fmt(heldOut.get(0)[0]),
              heldOut.get(heldOut.size() - 1)[1],
              Svg.fmt(heldOut.get(heldOut.size() - 1)[0])));
    }
    html.append(Svg.curve("training loss", loss));
    if (heldOut.size() > 1) {
      html.append(Svg.curve("held-out loss", heldOut));
    }
    html.append(Svg.curve("tokens per second", speed));
    if (status.latestCheckpoint != null) {
      html.append("<p>Latest checkpoint: step ")
          .append(status.latestCheckpoint.step)
          .append(", <code>")
          .append(esc(String.valueOf(status.latestCheckpoint.path)))
          .append("</code></p>");
    }
    if (status.bestCheckpoint != null) {
      html.append(
          String.format(
              Locale.ROOT,
              "<p>Best checkpoint (lowest held-out loss, %.4f): step %d, <code>%s</code></p>",
              status.bestCheckpoint.evalLoss,
              status.bestCheckpoint.step,
              esc(String.valueOf(status.bestCheckpoint.path))));
    }
    Captions.section(html, volume, run, tokenizer);
  }

  static String pct(long part, long whole) {
    return whole == 0 ? "0%" : String.format(Locale.ROOT, "%.1f%%", 100.0 * part / whole);
  }

  static String esc(String s) {
    return s == null
        ? ""
        : s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }

  private static String or(String s) {
    return s == null ? "" : esc(s);
  }
}
