package dev.tessera.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * What can be checked of the CUDA backend without a GPU: the build produced the kernel source (and
 * the fatbin where nvcc exists), every kernel the launchers name is defined there, and opening the
 * backend on a machine without CUDA fails with a message that says what is missing.
 */
class KernelSourcesTest {
  private static String resource(String name) throws IOException {
    try (InputStream in = KernelModule.class.getResourceAsStream(name)) {
      assertThat(in).as(name + " in the engine's classes").isNotNull();
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static Set<String> matches(Pattern pattern, String text) {
    Set<String> names = new TreeSet<>();
    Matcher m = pattern.matcher(text);
    while (m.find()) {
      names.add(m.group(1));
    }
    return names;
  }

  @Test
  void everyLaunchedKernelIsDefinedInTheSingleTranslationUnit() throws IOException {
    String source = resource(KernelModule.SOURCE);
    // NVRTC compiles this text with no include path: it must not include anything.
    assertThat(source).doesNotContain("#include");
    Set<String> defined =
        matches(
            Pattern.compile(
                "extern \"C\" __global__ void (?:__launch_bounds__\\([^)]*\\)\\s*)?(\\w+)\\("),
            source);
    StringBuilder launchers = new StringBuilder();
    try (Stream<Path> files = Files.list(Path.of("src/main/java/dev/tessera/engine/cuda"))) {
      for (Path file : files.toList()) {
        launchers.append(Files.readString(file));
      }
    }
    Set<String> launched =
        matches(Pattern.compile("launch\\(\\s*\"(\\w+)\""), launchers.toString());
    assertThat(launched).hasSizeGreaterThan(20);
    assertThat(defined).containsAll(launched);
  }

  /** The text between the parenthesis at {@code open} and its match, split at top-level commas. */
  private static List<String> arguments(String text, int open) {
    List<String> parts = new ArrayList<>();
    int depth = 0;
    int start = open + 1;
    boolean inString = false;
    for (int i = open; i < text.length(); i++) {
      char ch = text.charAt(i);
      if (ch == '"' && text.charAt(i - 1) != '\\') {
        inString = !inString;
      } else if (inString) {
        continue;
      } else if (ch == '(') {
        depth++;
      } else if (ch == ')' && --depth == 0) {
        parts.add(text.substring(start, i).trim());
        return parts;
      } else if (ch == ',' && depth == 1) {
        parts.add(text.substring(start, i).trim());
        start = i + 1;
      }
    }
    throw new IllegalArgumentException("unbalanced parentheses from " + open);
  }

  @Test
  void everyLaunchPassesAsManyArgumentsAsItsKernelTakes() throws IOException {
    // A launch with an argument too few or too many still compiles and builds: on a GPU it reads
    // garbage or faults. Kernels named by a literal, whose arguments are listed one by one.
    String source = resource(KernelModule.SOURCE);
    Map<String, Integer> parameters = new TreeMap<>();
    Matcher kernel =
        Pattern.compile(
                "extern \"C\" __global__ void (?:__launch_bounds__\\([^)]*\\)\\s*)?(\\w+)\\(")
            .matcher(source);
    while (kernel.find()) {
      parameters.put(kernel.group(1), arguments(source, kernel.end() - 1).size());
    }
    int checked = 0;
    List<String> mismatches = new ArrayList<>();
    try (Stream<Path> files = Files.list(Path.of("src/main/java/dev/tessera/engine/cuda"))) {
      for (Path file : files.toList()) {
        String java = Files.readString(file);
        Matcher launch = Pattern.compile("launch\\(\\s*\"(\\w+)\"").matcher(java);
        while (launch.find()) {
          String name = launch.group(1);
          List<String> args = arguments(java, java.indexOf('(', launch.start()));
          if (!parameters.containsKey(name) || args.stream().anyMatch(a -> a.endsWith("..."))) {
            continue;
          }
          checked++;
          int passed = args.size() - 2; // the kernel's name and the launch shape come first
          if (passed != parameters.get(name)) {
            mismatches.add(
                file.getFileName()
                    + ": "
                    + name
                    + " takes "
                    + parameters.get(name)
                    + " arguments, launched with "
                    + passed);
          }
        }
      }
    }
    assertThat(checked).isGreaterThan(30);
    assertThat(mismatches).isEmpty();
  }

  @Test
  void everyTensorCoreAttentionKernelIsInstantiated() throws IOException {
    String source = resource(KernelModule.SOURCE);
    // The kernels are stamped out per head dimension by a macro: expand its instantiations.
    Set<String> templates =
        matches(
            Pattern.compile(
                "extern \"C\" __global__ void (?:__launch_bounds__\\([^)]*\\)\\s*)?(\\w+)_d##HD\\("),
            source);
    assertThat(templates)
        .containsExactlyInAnyOrder(
            "attention_mma_forward", "attention_mma_dkdv", "attention_mma_dq");
    Set<String> headDims = matches(Pattern.compile("\nAMMA_KERNELS\\((\\d+)\\)"), source);
    Set<String> defined = new TreeSet<>();
    for (String template : templates) {
      for (String d : headDims) {
        defined.add(template + "_d" + d);
      }
    }
    for (int d : AttentionLaunch.TENSOR_CORE_HEAD_DIMS) {
      for (String pass : new String[] {"forward", "dkdv", "dq"}) {
        assertThat(defined).contains(AttentionLaunch.tensorCoreKernel(pass, d));
      }
    }
  }

  @Test
  void theFatbinIsBuiltWhereNvccExists() throws IOException {
    boolean nvcc =
        Stream.of(System.getenv("PATH").split(":"))
                .anyMatch(dir -> Files.isExecutable(Path.of(dir, "nvcc")))
            || Files.isExecutable(Path.of("/usr/local/cuda/bin/nvcc"));
    boolean required = "1".equals(System.getenv("TESSERA_REQUIRE_NVCC"));
    try (InputStream in = KernelModule.class.getResourceAsStream(KernelModule.FATBIN)) {
      if (nvcc || required) {
        assertThat(in).as("fatbin built by nvcc").isNotNull();
        byte[] header = in.readNBytes(4);
        // A fatbin starts with the magic 0xBA55ED50, little-endian.
        assertThat(header).containsExactly(0x50, 0xED, 0x55, 0xBA);
      } else {
        assertThat(in).as("no nvcc, so no fatbin").isNull();
      }
    }
  }

  @Test
  void openingWithoutAGpuFailsWithAClearMessage() {
    boolean gpu = Files.exists(Path.of("/dev/nvidia0")) || Files.exists(Path.of("/dev/nvidiactl"));
    if (gpu) {
      assertThat(CudaBackend.open(0, CudaBackend.GemmPrecision.FP32)).isNotNull();
      return;
    }
    assertThatThrownBy(() -> CudaBackend.open(0, CudaBackend.GemmPrecision.FP32))
        .isInstanceOf(CudaException.class)
        .hasMessageMatching("(?s).*(cannot load the CUDA runtime|no usable CUDA device).*");
  }
}
