package dev.tessera.engine.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class VectorApiLauncherTest {

  /** Stands for a tool's main class: reports whether it runs with the Vector API. */
  public static final class ProbeMain {
    public static void main(String[] args) {
      if (!VectorApiLauncher.relaunchIfNeeded(ProbeMain.class, args)) {
        System.exit(VectorApiLauncher.childExitCode());
      }
      if (args.length == 1 && args[0].equals("wait")) {
        System.out.println("pid=" + ProcessHandle.current().pid());
        System.out.flush();
        try {
          Thread.sleep(120_000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      System.out.println("simd=" + Vec.SIMD + " args=" + String.join(",", args));
      System.exit(args.length);
    }
  }

  @Test
  void aJvmWithoutTheModuleRelaunchesWithItAndPassesTheExitCodeOn()
      throws IOException, InterruptedException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process process =
        new ProcessBuilder(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                ProbeMain.class.getName(),
                "a",
                "b c")
            .redirectErrorStream(true)
            .start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();

    assertThat(output).contains("simd=true args=a,b c");
    assertThat(process.exitValue()).isEqualTo(2);
  }

  @Test
  void killingTheLaunchingJvmStopsTheRelaunchedOne() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process launcher =
        new ProcessBuilder(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                ProbeMain.class.getName(),
                "wait")
            .redirectErrorStream(true)
            .start();
    java.io.BufferedReader output =
        new java.io.BufferedReader(
            new java.io.InputStreamReader(launcher.getInputStream(), StandardCharsets.UTF_8));
    String line = output.readLine();
    while (line != null && !line.startsWith("pid=")) {
      line = output.readLine(); // the JVM's incubator-module warning comes first
    }
    assertThat(line).startsWith("pid=");
    long childPid = Long.parseLong(line.substring(4).trim());
    assertThat(childPid).isNotEqualTo(launcher.pid());
    ProcessHandle child = ProcessHandle.of(childPid).orElseThrow();
    launcher.destroyForcibly(); // SIGKILL: no shutdown hook runs in the launcher
    assertThat(launcher.waitFor(30, TimeUnit.SECONDS)).isTrue();
    // The relaunched JVM notices and halts on its own.
    child.onExit().get(30, TimeUnit.SECONDS);
    assertThat(child.isAlive()).isFalse();
  }

  @Test
  void theChildCommandAddsTheModuleAndKeepsClassPathAndArguments() {
    List<String> command = VectorApiLauncher.command(ProbeMain.class, new String[] {"--x", "1"});

    assertThat(command).containsSequence("--add-modules", "jdk.incubator.vector");
    assertThat(command).contains("-D" + VectorApiLauncher.MARKER + "=true");
    assertThat(command).containsSequence("-cp", System.getProperty("java.class.path"));
    assertThat(command).endsWith(ProbeMain.class.getName(), "--x", "1");
  }

  @Test
  void theChildGetsHugePagesWhereTheKernelOffersThemAndTheParentDidNotChoose(
      @org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
    Path madvise =
        java.nio.file.Files.writeString(dir.resolve("madvise"), "always [madvise] never\n");
    Path always =
        java.nio.file.Files.writeString(dir.resolve("always"), "[always] madvise never\n");
    Path never = java.nio.file.Files.writeString(dir.resolve("never"), "always madvise [never]\n");
    assertThat(VectorApiLauncher.hugePagesOffered(madvise)).isTrue();
    assertThat(VectorApiLauncher.hugePagesOffered(always)).isTrue();
    assertThat(VectorApiLauncher.hugePagesOffered(never)).isFalse();
    assertThat(VectorApiLauncher.hugePagesOffered(dir.resolve("missing"))).isFalse();

    String trapLimit = VectorApiLauncher.TRAP_LIMIT;
    assertThat(VectorApiLauncher.jvmOptions(List.of("-Xmx1g"), true))
        .containsExactly("-Xmx1g", trapLimit, "-XX:+UseTransparentHugePages");
    assertThat(VectorApiLauncher.jvmOptions(List.of("-Xmx1g"), false))
        .containsExactly("-Xmx1g", trapLimit);
    assertThat(VectorApiLauncher.jvmOptions(List.of("-XX:-UseTransparentHugePages"), true))
        .containsExactly("-XX:-UseTransparentHugePages", trapLimit);
  }

  @Test
  void theChildGetsTheTrapLimitUnlessTheParentChoseOne() {
    assertThat(VectorApiLauncher.jvmOptions(List.of(), false))
        .containsExactly("-XX:PerMethodTrapLimit=10000");
    assertThat(VectorApiLauncher.jvmOptions(List.of("-XX:PerMethodTrapLimit=200"), false))
        .containsExactly("-XX:PerMethodTrapLimit=200");
  }

  /**
   * Every other launch of the kernels passes the same option: the {@code tessera} script, the
   * worker images' ENTRYPOINTs and the benchmark and GPU-check scripts.
   */
  @Test
  void everyLaunchScriptAndWorkerImagePassesTheTrapLimit() throws IOException {
    Path root = Path.of("../..").toAbsolutePath().normalize();
    for (String launcher :
        List.of(
            "tessera",
            "trainer-image/Containerfile",
            "curator-image/Containerfile",
            "scripts/bench-train.sh",
            "scripts/bench-engine.sh",
            "scripts/gpu-check.sh")) {
      assertThat(java.nio.file.Files.readString(root.resolve(launcher)))
          .as(launcher)
          .contains(VectorApiLauncher.TRAP_LIMIT.substring(4)); // without "-XX:"
    }
  }
}
