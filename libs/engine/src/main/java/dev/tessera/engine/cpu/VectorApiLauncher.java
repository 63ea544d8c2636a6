package dev.tessera.engine.cpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Makes {@code java -jar tool.jar ...} run with the Vector API. A jar manifest cannot add the
 * {@code jdk.incubator.vector} module, so a main class calls {@link #relaunchIfNeeded} first: when
 * the module is missing it starts the same command again in a child JVM with {@code --add-modules
 * jdk.incubator.vector} (and the parent's JVM options, with transparent huge pages for the heap
 * where the kernel offers them and {@link #TRAP_LIMIT}), passes its exit code on and returns false;
 * the caller then exits. Set {@code TESSERA_NO_RELAUNCH=1} to run on the scalar fallback instead.
 *
 * <p>The two JVMs live and die together, so killing the command stops its work: the parent's
 * shutdown (SIGTERM, Ctrl-C) stops the child, and the child halts when the parent is gone (even
 * killed with SIGKILL, which runs no shutdown hook).
 */
public final class VectorApiLauncher {
  /** How long a signalled launcher waits for its child to finish (a trainer's last checkpoint). */
  static final long CHILD_STOP_WAIT_MINUTES = 10;

  static final String MARKER = "tessera.relaunched";

  private VectorApiLauncher() {}

  /**
   * @return true when this JVM should go on (the Vector API is present, or relaunching is off or
   *     impossible); false when a child JVM ran the command and its exit code is in {@link
   *     #childExitCode}
   */
  public static boolean relaunchIfNeeded(Class<?> mainClass, String[] args) {
    if (System.getProperty(MARKER) != null) {
      exitWithParent();
      return true;
    }
    if (Vec.SIMD || "1".equals(System.getenv("TESSERA_NO_RELAUNCH"))) {
      return true;
    }
    List<String> command = command(mainClass, args);
    if (command == null) {
      return true;
    }
    try {
      Process child = new ProcessBuilder(command).inheritIO().start();
      // A signal to this JVM goes on to the child, and this JVM waits for it: the child may be
      // writing a checkpoint on its way out, and in a container this JVM's end ends it too.
      Thread stopChild =
          new Thread(
              () -> {
                child.destroy();
                try {
                  child.waitFor(CHILD_STOP_WAIT_MINUTES, TimeUnit.MINUTES);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              },
              "stop relaunched child");
      Runtime.getRuntime().addShutdownHook(stopChild);
      childExitCode = child.waitFor();
      Runtime.getRuntime().removeShutdownHook(stopChild);
      return false;
    } catch (IOException e) {
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      childExitCode = 130;
      return false;
    }
  }

  private static int childExitCode;

  /** In the relaunched child: halt as a killed process would once the launching JVM is gone. */
  private static void exitWithParent() {
    ProcessHandle.current()
        .parent()
        .ifPresent(parent -> parent.onExit().thenRun(() -> Runtime.getRuntime().halt(137)));
  }

  /** The exit code of the child JVM after {@link #relaunchIfNeeded} returned false. */
  public static int childExitCode() {
    return childExitCode;
  }

  /** Where Linux says whether transparent huge pages are on: always, on request or never. */
  static final Path TRANSPARENT_HUGE_PAGES = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");

  /**
   * C2's limit on deoptimisation traps per compiled method, raised from its default of 100. C2 adds
   * up the trap counts recorded in every method it inlines into one compilation, and the Vector
   * API's shared internals ({@code VectorOperators.opCode}, {@code ImplCache.find}) carry
   * class-check traps left by whatever vector code ran before. A kernel that inlines a few dozen
   * vector operations then passes 100 by that sum alone, depending on what ran first, and C2
   * compiles all of its class checks as exception-throwing branches: the loss's exponentials ran
   * 3.5 times slower in about one run in five ({@code VectorMathBenchmark}, docs/benchmarks.md).
   * Every launch that runs the kernels passes this option: this launcher, the {@code tessera}
   * script, the worker images and the benchmark scripts.
   */
  public static final String TRAP_LIMIT = "-XX:PerMethodTrapLimit=10000";

  /**
   * The child's JVM options: the parent's, plus {@link #TRAP_LIMIT} and transparent huge pages for
   * the heap where the kernel offers them, each unless the parent chose. A training step reads some
   * 200 MB of activations; with 2 MiB pages its address translations stop missing (CPU step 3–5%
   * faster, docs/benchmarks.md).
   */
  static List<String> jvmOptions(List<String> parentOptions, boolean hugePagesOffered) {
    List<String> options = new ArrayList<>(parentOptions);
    if (!chose(parentOptions, "PerMethodTrapLimit")) {
      options.add(TRAP_LIMIT);
    }
    if (hugePagesOffered && !chose(parentOptions, "UseTransparentHugePages")) {
      options.add("-XX:+UseTransparentHugePages");
    }
    return options;
  }

  private static boolean chose(List<String> options, String flag) {
    return options.stream().anyMatch(o -> o.contains(flag));
  }

  /**
   * Whether the kernel gives huge pages to memory that asks for them: its setting file names the
   * current choice in brackets ({@code always [madvise] never}). False where the file is missing
   * (not Linux, or no huge page support).
   */
  static boolean hugePagesOffered(Path enabledFile) {
    try {
      String setting = Files.readString(enabledFile);
      return setting.contains("[always]") || setting.contains("[madvise]");
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** The child's command line, or null when this JVM's launch cannot be reproduced. */
  static List<String> command(Class<?> mainClass, String[] args) {
    String javaHome = System.getProperty("java.home");
    String classPath = System.getProperty("java.class.path");
    if (javaHome == null || classPath == null || classPath.isEmpty()) {
      return null;
    }
    List<String> command = new ArrayList<>();
    command.add(Path.of(javaHome, "bin", "java").toString());
    command.add("--add-modules");
    command.add("jdk.incubator.vector");
    command.add("-D" + MARKER + "=true");
    command.addAll(
        jvmOptions(
            java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments(),
            hugePagesOffered(TRANSPARENT_HUGE_PAGES)));
    command.add("-cp");
    command.add(classPath);
    command.add(mainClass.getName());
    command.addAll(List.of(args));
    return command;
  }
}
