package dev.tessera.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.net.JarURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * scripts/cuda-libraries.sh, which gathers the CUDA libraries of the CUDA worker images: against
 * the real JNI glue of the backend (Bytedeco's jar) and stand-in libraries compiled here with the
 * sonames and dependencies of CUDA 13's, in a directory and in a wheel. It must gather a complete
 * set under the sonames, and refuse, by name, a set with a library missing, a library that is not
 * one, or a dependency nobody provides.
 *
 * <p>Each case runs twice: with readelf and unzip, and with the script's Python fallback for
 * machines without binutils (a GPU machine with only Python).
 *
 * <p>Needs gcc, readelf and unzip: without them the test is skipped, unless
 * TESSERA_REQUIRE_BINUTILS=1 (CI sets it), which makes that a failure.
 */
class CudaLibrariesScriptTest {
  private static final Path SCRIPT =
      Path.of("..", "scripts", "cuda-libraries.sh").toAbsolutePath().normalize();

  @TempDir static Path stubs;

  /** The jar holding the backend's JNI glue (org/bytedeco/cuda/linux-x86_64/libjni*.so). */
  private static Path glueJar;

  @BeforeAll
  static void compileStandIns() throws Exception {
    for (String tool : List.of("gcc", "readelf", "unzip")) {
      if (onPath(tool) == null) {
        String message = tool + " is not on the PATH; install it with: apt-get install gcc unzip";
        if ("1".equals(System.getenv("TESSERA_REQUIRE_BINUTILS"))) {
          throw new AssertionError(message + " (TESSERA_REQUIRE_BINUTILS=1 makes this a failure)");
        }
        Assumptions.abort(message);
      }
    }
    URL glue =
        CudaLibrariesScriptTest.class
            .getClassLoader()
            .getResource("org/bytedeco/cuda/linux-x86_64/libjnicudart.so");
    assertThat(glue).as("Bytedeco's CUDA JNI glue on the test class path").isNotNull();
    glueJar = Path.of(((JarURLConnection) glue.openConnection()).getJarFileURL().toURI());

    Path source = stubs.resolve("stub.c");
    Files.writeString(source, "int tessera_stub(void) { return 0; }\n");
    Path dir = Files.createDirectories(stubs.resolve("toolkit/lib64"));
    compile(dir.resolve("libcudart.so.13.0.96"), "libcudart.so.13");
    Files.createSymbolicLink(dir.resolve("libcudart.so.13"), Path.of("libcudart.so.13.0.96"));
    compile(dir.resolve("libcublasLt.so.13"), "libcublasLt.so.13");
    // cuBLAS needs cuBLASLt, as the real one does.
    compile(dir.resolve("libcublas.so.13"), "libcublas.so.13", dir, "libcublasLt.so.13");
    compile(dir.resolve("libnvrtc.so.13"), "libnvrtc.so.13");
    compile(dir.resolve("libnvrtc-builtins.so.13.0"), "libnvrtc-builtins.so.13.0");
    // NCCL comes as NVIDIA's wheel: a zip with the library under nvidia/nccl/lib.
    Path nccl = stubs.resolve("libnccl.so.2");
    compile(nccl, "libnccl.so.2");
    try (ZipOutputStream wheel =
        new ZipOutputStream(
            Files.newOutputStream(stubs.resolve("nvidia_nccl_cu13-2.28.3-py3-none-x86_64.whl")))) {
      wheel.putNextEntry(new ZipEntry("nvidia/nccl/lib/libnccl.so.2"));
      Files.copy(nccl, wheel);
      wheel.closeEntry();
      wheel.putNextEntry(new ZipEntry("nvidia_nccl_cu13-2.28.3.dist-info/METADATA"));
      wheel.write("Name: nvidia-nccl-cu13\n".getBytes(StandardCharsets.UTF_8));
      wheel.closeEntry();
    }
    Files.delete(nccl);
  }

  @ParameterizedTest
  @ValueSource(strings = {"readelf", "python"})
  void aCompleteSetIsGatheredUnderItsSonames(String reader, @TempDir Path tmp) throws Exception {
    Path out = tmp.resolve("libs");
    Result result = run(reader, out, toolkit(), wheel());
    assertThat(result.status()).as(result.output()).isZero();
    try (Stream<Path> files = Files.list(out)) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder(
              "libcudart.so.13",
              "libcublas.so.13",
              "libcublasLt.so.13",
              "libnvrtc.so.13",
              "libnvrtc-builtins.so.13.0",
              "libnccl.so.2");
    }
    // Copied, not linked: the image's build context holds the files themselves.
    assertThat(Files.isSymbolicLink(out.resolve("libcudart.so.13"))).isFalse();
    assertThat(Files.readAllBytes(out.resolve("libcudart.so.13")))
        .isEqualTo(Files.readAllBytes(toolkit().resolve("libcudart.so.13.0.96")));
    assertThat(result.output()).contains("6 libraries in " + out);
  }

  @ParameterizedTest
  @ValueSource(strings = {"readelf", "python"})
  void aMissingLibraryIsNamed(String reader, @TempDir Path tmp) throws Exception {
    Result result = run(reader, tmp.resolve("libs"), toolkit());
    assertThat(result.status()).isEqualTo(1);
    assertThat(result.output())
        .contains("not found in " + toolkit() + ": libnccl.so.2")
        .contains("nvidia-nccl-cu13");
  }

  @ParameterizedTest
  @ValueSource(strings = {"readelf", "python"})
  void aFileThatIsNotTheLibraryDoesNotCount(String reader, @TempDir Path tmp) throws Exception {
    Path fake = Files.createDirectories(tmp.resolve("fake"));
    Files.writeString(fake.resolve("libnvrtc.so.13"), "not a shared library");
    Path partial = Files.createDirectories(tmp.resolve("partial"));
    for (String name :
        List.of(
            "libcudart.so.13",
            "libcublas.so.13",
            "libcublasLt.so.13",
            "libnvrtc-builtins.so.13.0")) {
      Files.copy(toolkit().resolve(name), partial.resolve(name));
    }
    Result result = run(reader, tmp.resolve("libs"), partial, fake, wheel());
    assertThat(result.status()).isEqualTo(1);
    assertThat(result.output()).contains(": libnvrtc.so.13");
  }

  @ParameterizedTest
  @ValueSource(strings = {"readelf", "python"})
  void aDependencyNobodyProvidesIsNamedWithWhatNeedsIt(String reader, @TempDir Path tmp)
      throws Exception {
    Path other = Files.createDirectories(tmp.resolve("other"));
    Path extra = Files.createDirectories(tmp.resolve("extra"));
    compile(extra.resolve("libcublasExtra.so.13"), "libcublasExtra.so.13");
    compile(other.resolve("libcublasLt.so.13"), "libcublasLt.so.13", extra, "libcublasExtra.so.13");
    for (String name :
        List.of(
            "libcudart.so.13", "libcublas.so.13", "libnvrtc.so.13", "libnvrtc-builtins.so.13.0")) {
      Files.copy(toolkit().resolve(name), other.resolve(name));
    }
    Result result = run(reader, tmp.resolve("libs"), other, wheel());
    assertThat(result.status()).isEqualTo(1);
    assertThat(result.output())
        .contains("unresolved: libcublasExtra.so.13 (needed by libcublasLt.so.13)");
  }

  /** --out is emptied of the libraries a run put there, never of anything else. */
  @Test
  void anOutputDirectoryHoldingOtherFilesIsRefusedAndKept(@TempDir Path tmp) throws Exception {
    Path out = Files.createDirectories(tmp.resolve("libs"));
    Files.writeString(out.resolve("notes.txt"), "keep me");
    Result refused = run("readelf", out, toolkit(), wheel());
    assertThat(refused.status()).isEqualTo(1);
    assertThat(refused.output()).contains("holds other files than libraries");
    assertThat(out.resolve("notes.txt")).hasContent("keep me");

    Files.delete(out.resolve("notes.txt"));
    Files.writeString(out.resolve("libold.so.1"), "a library of an earlier run");
    Result again = run("readelf", out, toolkit(), wheel());
    assertThat(again.status()).as(again.output()).isZero();
    assertThat(out.resolve("libold.so.1")).doesNotExist();
    assertThat(out.resolve("libnccl.so.2")).exists();
  }

  private static Path toolkit() {
    return stubs.resolve("toolkit/lib64");
  }

  private static Path wheel() {
    return stubs.resolve("nvidia_nccl_cu13-2.28.3-py3-none-x86_64.whl");
  }

  private record Result(int status, String output) {}

  /**
   * Runs the script; {@code reader} "python" makes it read ELF files and zips with Python instead
   * of readelf and unzip, as on a machine without binutils.
   */
  private static Result run(String reader, Path out, Path... sources) throws Exception {
    List<String> command =
        new ArrayList<>(
            List.of(
                "bash", SCRIPT.toString(), "--out", out.toString(), "--jar", glueJar.toString()));
    for (Path source : sources) {
      command.add(source.toString());
    }
    return exec(command, Map.of("CUDA_LIBRARIES_ELF", reader));
  }

  /** A shared library of one function, with soname {@code soname}, needing {@code needs}. */
  private static void compile(Path file, String soname, Object... linkDirAndNeeds)
      throws Exception {
    List<String> command =
        new ArrayList<>(
            List.of(
                "gcc",
                "-shared",
                "-fPIC",
                "-o",
                file.toString(),
                "-Wl,-soname," + soname,
                stubs.resolve("stub.c").toString()));
    if (linkDirAndNeeds.length > 0) {
      command.addAll(List.of("-Wl,--no-as-needed", "-L" + linkDirAndNeeds[0]));
      for (int i = 1; i < linkDirAndNeeds.length; i++) {
        command.add("-l:" + linkDirAndNeeds[i]);
      }
    }
    Result result = exec(command, Map.of());
    assertThat(result.status()).as("gcc: %s", result.output()).isZero();
  }

  private static Result exec(List<String> command, Map<String, String> env)
      throws IOException, InterruptedException {
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().putAll(env);
    Process process = builder.start();
    process.getOutputStream().close();
    byte[] output = process.getInputStream().readAllBytes();
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("%s finished", command.get(0)).isTrue();
    return new Result(process.exitValue(), new String(output, StandardCharsets.UTF_8));
  }

  private static String onPath(String program) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      Path candidate = Path.of(dir.isEmpty() ? "." : dir, program);
      if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
        return candidate.toString();
      }
    }
    return null;
  }
}
