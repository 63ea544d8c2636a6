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
  void theChildCommandAddsTheModuleAndKeepsClassPathAndArguments() {
    List<String> command = VectorApiLauncher.command(ProbeMain.class, new String[] {"--x", "1"});

    assertThat(command).containsSequence("--add-modules", "jdk.incubator.vector");
    assertThat(command).contains("-D" + VectorApiLauncher.MARKER + "=true");
    assertThat(command).containsSequence("-cp", System.getProperty("java.class.path"));
    assertThat(command).endsWith(ProbeMain.class.getName(), "--x", "1");
  }
}
