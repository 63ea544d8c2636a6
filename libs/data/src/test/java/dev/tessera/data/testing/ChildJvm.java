package dev.tessera.data.testing;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Starts a program in a JVM of its own with the test's class path, for tests that kill a worker
 * with SIGKILL ({@link Process#destroyForcibly}) and check what it leaves behind.
 */
public final class ChildJvm {
  private ChildJvm() {}

  /**
   * Starts {@code main} with {@code args}; its output is discarded.
   *
   * @param jvmOptions options for the child JVM, such as {@code --add-modules}
   */
  public static Process start(Class<?> main, List<String> jvmOptions, List<String> args)
      throws IOException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(main.getName());
    command.addAll(args);
    return new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .directory(new File(System.getProperty("user.dir")))
        .start();
  }
}
