package dev.tessera.data.uid;

import dev.tessera.data.testing.Python;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs Python scripts with numpy, to compare against the real {@code np.save} and {@code np.load}.
 */
final class Numpy {
  private Numpy() {}

  /** Runs {@code script} with {@code args}, failing unless it exits 0; returns its stdout. */
  static String run(String script, Path... args) throws IOException, InterruptedException {
    List<String> command =
        new ArrayList<>(List.of(Python.with("numpy", "python3-numpy"), "-c", script));
    for (Path arg : args) {
      command.add(arg.toString());
    }
    return Python.run(command);
  }
}
