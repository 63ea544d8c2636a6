package dev.tessera.engine.cpu;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Makes {@code java -jar tool.jar ...} run with the Vector API. A jar manifest cannot add the
 * {@code jdk.incubator.vector} module, so a main class calls {@link #relaunchIfNeeded} first: when
 * the module is missing it starts the same command again in a child JVM with {@code --add-modules
 * jdk.incubator.vector} (and the parent's JVM options), passes its exit code on and returns false;
 * the caller then exits. Set {@code TESSERA_NO_RELAUNCH=1} to run on the scalar fallback instead.
 *
 * <p>The two JVMs live and die together, so killing the command stops its work: the parent's
 * shutdown (SIGTERM, Ctrl-C) stops the child, and the child halts when the parent is gone (even
 * killed with SIGKILL, which runs no shutdown hook).
 */
public final class VectorApiLauncher {
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
      Thread stopChild = new Thread(child::destroy, "stop relaunched child");
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
    command.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
    command.add("-cp");
    command.add(classPath);
    command.add(mainClass.getName());
    command.addAll(List.of(args));
    return command;
  }
}
