package dev.tessera.data.webdataset;

import dev.tessera.data.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Turns a shard specification into the list of shard files it names. A specification is one of:
 *
 * <ul>
 *   <li>a brace pattern as WebDataset and DataComp use them: {@code raw/{00000..01302}.tar} (a
 *       numeric range, zero-padded to the width of its bounds) or {@code raw/{a,b,c}.tar}
 *       (alternatives); several braces multiply out, left to right;
 *   <li>a directory: every {@code *.tar} in it, sorted by name (files still being written, {@code
 *       *.partial}, are not shards);
 *   <li>a single tar file.
 * </ul>
 *
 * Relative specifications resolve against a base directory (the storage root in a pod).
 */
public final class ShardList {

  /** Expansions beyond this many names are refused: a typo must not allocate a billion paths. */
  static final int MAX_EXPANSION = 10_000_000;

  private ShardList() {}

  /**
   * Resolves {@code spec} against {@code base}, requiring every named shard to exist.
   *
   * @throws NoSuchFileException naming the missing shards (the first few of them and how many)
   * @throws IllegalArgumentException when the pattern is malformed
   */
  public static List<Path> resolve(Path base, String spec) throws IOException {
    return resolve(base, spec, false);
  }

  /**
   * Resolves {@code spec} against {@code base}. With {@code allowMissing}, shards that a brace
   * pattern names but that do not exist are left out (partial downloads are common in web-scale
   * data sets); otherwise they are an error.
   */
  public static List<Path> resolve(Path base, String spec, boolean allowMissing)
      throws IOException {
    if (spec == null || spec.isBlank()) {
      throw new IllegalArgumentException("empty shard specification");
    }
    String trimmed = spec.trim();
    if (trimmed.indexOf('{') >= 0 || trimmed.indexOf('}') >= 0) {
      List<Path> named =
          expand(trimmed).stream()
              .map(name -> base.resolve(name).normalize())
              .collect(Collectors.toList());
      List<Path> missing = named.stream().filter(p -> !Files.isRegularFile(p)).toList();
      if (!missing.isEmpty() && !allowMissing) {
        throw new NoSuchFileException(
            base.resolve(trimmed).toString(),
            null,
            missing.size()
                + " of "
                + named.size()
                + " shards do not exist, e.g. "
                + missing.stream().limit(3).map(Path::toString).collect(Collectors.joining(", ")));
      }
      named.removeAll(missing);
      return named;
    }
    Path path = base.resolve(trimmed).normalize();
    if (Files.isDirectory(path)) {
      List<Path> shards;
      try (Stream<Path> listing = Files.list(path)) {
        shards =
            listing
                .filter(p -> p.getFileName().toString().endsWith(".tar"))
                .filter(Files::isRegularFile)
                .sorted()
                .toList();
      }
      if (shards.isEmpty()) {
        throw new NoSuchFileException(path.toString(), null, "directory holds no .tar shards");
      }
      return shards;
    }
    if (Files.isRegularFile(path)) {
      return List.of(path);
    }
    if (path.getFileName().toString().endsWith(AtomicFiles.IN_PROGRESS_SUFFIX)) {
      throw new IllegalArgumentException(path + " is still being written, not a shard");
    }
    throw new NoSuchFileException(path.toString(), null, "no such shard or directory");
  }

  /**
   * Expands brace expressions in {@code pattern}: {@code {a,b}} alternatives and {@code {lo..hi}}
   * integer ranges (ascending or descending, zero-padded when a bound has leading zeros).
   */
  public static List<String> expand(String pattern) {
    int open = pattern.indexOf('{');
    int stray = pattern.indexOf('}');
    if (open < 0) {
      if (stray >= 0) {
        throw new IllegalArgumentException(
            "unbalanced '}' at position " + stray + " in shard pattern '" + pattern + "'");
      }
      return List.of(pattern);
    }
    if (stray >= 0 && stray < open) {
      throw new IllegalArgumentException(
          "unbalanced '}' at position " + stray + " in shard pattern '" + pattern + "'");
    }
    int close = matchingBrace(pattern, open);
    String prefix = pattern.substring(0, open);
    List<String> choices = new ArrayList<>();
    for (String inner : choices(pattern, pattern.substring(open + 1, close))) {
      choices.addAll(expand(inner));
    }
    List<String> rest = expand(pattern.substring(close + 1));
    if ((long) choices.size() * rest.size() > MAX_EXPANSION) {
      throw new IllegalArgumentException(
          "shard pattern '" + pattern + "' expands to more than " + MAX_EXPANSION + " names");
    }
    List<String> out = new ArrayList<>(choices.size() * rest.size());
    for (String choice : choices) {
      for (String tail : rest) {
        out.add(prefix + choice + tail);
      }
    }
    return out;
  }

  private static int matchingBrace(String pattern, int open) {
    int depth = 0;
    for (int i = open; i < pattern.length(); i++) {
      char c = pattern.charAt(i);
      if (c == '{') {
        depth++;
      } else if (c == '}' && --depth == 0) {
        return i;
      }
    }
    throw new IllegalArgumentException(
        "unbalanced '{' at position " + open + " in shard pattern '" + pattern + "'");
  }

  /** The alternatives inside one pair of braces (which may themselves hold braces). */
  private static List<String> choices(String pattern, String body) {
    List<String> parts = new ArrayList<>();
    int depth = 0;
    int start = 0;
    for (int i = 0; i < body.length(); i++) {
      char c = body.charAt(i);
      if (c == '{') {
        depth++;
      } else if (c == '}') {
        depth--;
      } else if (c == ',' && depth == 0) {
        parts.add(body.substring(start, i));
        start = i + 1;
      }
    }
    parts.add(body.substring(start));
    if (parts.size() > 1) {
      return parts;
    }
    int dots = body.indexOf("..");
    if (dots < 0) {
      throw new IllegalArgumentException(
          "'{" + body + "}' in shard pattern '" + pattern + "' is neither a,b nor lo..hi");
    }
    return range(pattern, body.substring(0, dots), body.substring(dots + 2));
  }

  private static List<String> range(String pattern, String lowText, String highText) {
    long low;
    long high;
    try {
      low = Long.parseLong(lowText);
      high = Long.parseLong(highText);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "range '{"
              + lowText
              + ".."
              + highText
              + "}' in shard pattern '"
              + pattern
              + "' needs two integers",
          e);
    }
    if (Math.abs(high - low) >= MAX_EXPANSION) {
      throw new IllegalArgumentException(
          "shard pattern '" + pattern + "' expands to more than " + MAX_EXPANSION + " names");
    }
    boolean padded =
        (lowText.length() > 1 && lowText.startsWith("0"))
            || (highText.length() > 1 && highText.startsWith("0"));
    int width = padded ? Math.max(lowText.length(), highText.length()) : 0;
    String format = width > 0 ? "%0" + width + "d" : "%d";
    long step = high >= low ? 1 : -1;
    List<String> out = new ArrayList<>();
    for (long i = low; ; i += step) {
      out.add(String.format(format, i));
      if (i == high) {
        return out;
      }
    }
  }
}
