package dev.tessera.cli;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Small inline SVG charts for the report: bars, histograms and curves, no scripts. */
final class Svg {
  private Svg() {}

  static String bars(Map<String, Double> values, String unit) {
    if (values.isEmpty()) {
      return "<p>(none)</p>";
    }
    double max = values.values().stream().mapToDouble(Double::doubleValue).max().orElse(1);
    int row = 22;
    StringBuilder svg =
        new StringBuilder(
            String.format(
                Locale.ROOT,
                "<svg width=\"720\" height=\"%d\" role=\"img\">",
                values.size() * row + 4));
    int y = 2;
    for (var e : values.entrySet()) {
      double w = max <= 0 ? 0 : 420 * e.getValue() / max;
      svg.append(
              String.format(
                  Locale.ROOT,
                  "<text x=\"170\" y=\"%d\" text-anchor=\"end\" font-size=\"12\">%s</text>",
                  y + 15,
                  HtmlReport.esc(e.getKey())))
          .append(
              String.format(
                  Locale.ROOT,
                  "<rect x=\"178\" y=\"%d\" width=\"%.1f\" height=\"16\" fill=\"#4c78a8\"/>",
                  y + 2,
                  w))
          .append(
              String.format(
                  Locale.ROOT,
                  "<text x=\"%.1f\" y=\"%d\" font-size=\"12\">%s %s</text>",
                  184 + w,
                  y + 15,
                  fmt(e.getValue()),
                  unit));
      y += row;
    }
    return svg.append("</svg>").toString();
  }

  static String histogram(String title, double[] values) {
    if (values.length == 0) {
      return "";
    }
    double min = Arrays.stream(values).min().getAsDouble();
    double max = Arrays.stream(values).max().getAsDouble();
    int bins = 24;
    int[] counts = new int[bins];
    for (double v : values) {
      int b = max == min ? 0 : (int) Math.min(bins - 1, (v - min) / (max - min) * bins);
      counts[b]++;
    }
    int top = Arrays.stream(counts).max().getAsInt();
    StringBuilder svg = new StringBuilder("<svg width=\"320\" height=\"150\" role=\"img\">");
    svg.append(
        String.format(
            Locale.ROOT,
            "<text x=\"0\" y=\"12\" font-size=\"12\">%s (n=%d)</text>",
            HtmlReport.esc(title),
            values.length));
    for (int b = 0; b < bins; b++) {
      double h = top == 0 ? 0 : 100.0 * counts[b] / top;
      svg.append(
          String.format(
              Locale.ROOT,
              "<rect x=\"%d\" y=\"%.1f\" width=\"11\" height=\"%.1f\" fill=\"#72b7b2\"/>",
              10 + b * 12,
              120 - h,
              h));
    }
    svg.append(
        String.format(
            Locale.ROOT,
            "<text x=\"10\" y=\"138\" font-size=\"11\">%s</text><text x=\"298\" y=\"138\" font-size=\"11\" text-anchor=\"end\">%s</text>",
            fmt(min),
            fmt(max)));
    return svg.append("</svg>").toString();
  }

  static String curve(String title, List<double[]> points) {
    if (points.size() < 1) {
      return "";
    }
    double x0 = points.get(0)[0];
    double x1 = points.get(points.size() - 1)[0];
    double y0 = points.stream().mapToDouble(p -> p[1]).min().getAsDouble();
    double y1 = points.stream().mapToDouble(p -> p[1]).max().getAsDouble();
    StringBuilder path = new StringBuilder();
    for (double[] p : points) {
      double x = 40 + (x1 == x0 ? 0 : 420 * (p[0] - x0) / (x1 - x0));
      double y = 170 - (y1 == y0 ? 75 : 150 * (p[1] - y0) / (y1 - y0));
      path.append(path.length() == 0 ? "M" : "L")
          .append(String.format(Locale.ROOT, "%.1f %.1f ", x, y));
    }
    return "<svg width=\"480\" height=\"200\" role=\"img\">"
        + String.format(
            Locale.ROOT,
            "<text x=\"40\" y=\"12\" font-size=\"12\">%s</text>",
            HtmlReport.esc(title))
        + "<path d=\""
        + path
        + "\" fill=\"none\" stroke=\"#e45756\" stroke-width=\"2\"/>"
        + String.format(
            Locale.ROOT,
            "<text x=\"36\" y=\"24\" font-size=\"11\" text-anchor=\"end\">%s</text><text x=\"36\" y=\"172\" font-size=\"11\" text-anchor=\"end\">%s</text>",
            fmt(y1),
            fmt(y0))
        + String.format(
            Locale.ROOT,
            "<text x=\"40\" y=\"190\" font-size=\"11\">step %s</text><text x=\"460\" y=\"190\" font-size=\"11\" text-anchor=\"end\">%s</text>",
            fmt(x0),
            fmt(x1))
        + "</svg>";
  }

  static String fmt(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e9
        ? String.valueOf((long) v)
        : String.format(Locale.ROOT, "%.3g", v);
  }
}
