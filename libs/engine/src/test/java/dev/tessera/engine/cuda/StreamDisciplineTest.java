package dev.tessera.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The backend's ordering rests on one rule: every piece of device work is queued on the backend's
 * own stream. Work queued elsewhere would race with it (the stream is non-blocking), and without a
 * GPU no test could see the race, so the rule is checked on the sources: no synchronous copies or
 * fills, no device-wide waits, no null (legacy default) stream, and every call that takes a stream
 * is given the backend's.
 */
class StreamDisciplineTest {
  /** Calls that queue device work and take a stream argument. */
  private static final Pattern STREAM_CALLS =
      Pattern.compile(
          "\\b(cudaMemcpyAsync|cudaMemsetAsync|cuLaunchKernel|cublasLtMatmul|cudaEventRecord"
              + "|ncclAllReduce|ncclReduce|ncclBroadcast|ncclReduceScatter|ncclAllGather)\\(");

  /** Calls that bypass the stream: synchronous copies and fills, device-wide waits. */
  private static final Pattern BYPASSING_CALLS =
      Pattern.compile("\\b(cudaMemcpy|cudaMemset|cudaDeviceSynchronize|cudaMemcpy2D)\\(");

  private static Map<String, String> sources() throws IOException {
    Map<String, String> sources = new TreeMap<>();
    try (Stream<Path> files = Files.list(Path.of("src/main/java/dev/tessera/engine/cuda"))) {
      for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
        sources.put(file.getFileName().toString(), Files.readString(file));
      }
    }
    return sources;
  }

  /** The argument text of the call whose opening parenthesis is at {@code open}. */
  private static String arguments(String source, int open) {
    int depth = 0;
    for (int i = open; i < source.length(); i++) {
      char c = source.charAt(i);
      if (c == '(') {
        depth++;
      } else if (c == ')' && --depth == 0) {
        return source.substring(open + 1, i);
      }
    }
    throw new AssertionError("unbalanced call at " + open);
  }

  /** The top-level arguments of an argument list. */
  private static List<String> split(String arguments) {
    List<String> parts = new ArrayList<>();
    int depth = 0;
    int start = 0;
    for (int i = 0; i < arguments.length(); i++) {
      char c = arguments.charAt(i);
      if (c == '(') {
        depth++;
      } else if (c == ')') {
        depth--;
      } else if (c == ',' && depth == 0) {
        parts.add(arguments.substring(start, i).trim());
        start = i + 1;
      }
    }
    parts.add(arguments.substring(start).trim());
    return parts;
  }

  @Test
  void everyCallThatQueuesDeviceWorkNamesTheBackendsStream() throws IOException {
    List<String> offenders = new ArrayList<>();
    int checked = 0;
    for (Map.Entry<String, String> source : sources().entrySet()) {
      Matcher call = STREAM_CALLS.matcher(source.getValue());
      while (call.find()) {
        List<String> arguments = split(arguments(source.getValue(), call.end() - 1));
        checked++;
        if (!arguments.contains("stream") && !arguments.contains("cuda.stream()")) {
          offenders.add(source.getKey() + ": " + call.group(1) + arguments);
        }
      }
    }
    assertThat(offenders).as("calls queued outside the backend's stream").isEmpty();
    // The copies, fills, launches, GEMMs, the five collectives and the events are all there.
    assertThat(checked).isGreaterThanOrEqualTo(12);
  }

  @Test
  void nothingBypassesTheStream() throws IOException {
    List<String> offenders = new ArrayList<>();
    for (Map.Entry<String, String> source : sources().entrySet()) {
      Matcher call = BYPASSING_CALLS.matcher(source.getValue());
      while (call.find()) {
        offenders.add(source.getKey() + ": " + call.group(1));
      }
      if (source.getValue().contains("(CUstream_st) null")) {
        offenders.add(source.getKey() + ": the legacy default stream");
      }
    }
    assertThat(offenders).as("device work outside the backend's stream").isEmpty();
  }

  @Test
  void theArgumentParserSplitsTopLevelArguments() {
    String call = "cudaMemcpyAsync(Cuda.at(a + f(1, 2)), host, 4L * n, kind, stream) + rest";
    String arguments = arguments(call, call.indexOf('('));
    assertThat(arguments).isEqualTo("Cuda.at(a + f(1, 2)), host, 4L * n, kind, stream");
    assertThat(split(arguments))
        .containsExactly("Cuda.at(a + f(1, 2))", "host", "4L * n", "kind", "stream");
    assertThat(split("x, (CUstream_st) null")).containsExactly("x", "(CUstream_st) null");
  }
}
