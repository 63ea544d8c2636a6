package dev.tessera.model.io;

import dev.tessera.model.config.ParameterSet;
import dev.tessera.model.config.ParameterSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Checks a checkpoint against the tensors a configuration implies: every expected name present with
 * its shape, and nothing else under the checked prefix.
 *
 * @param missing expected names the checkpoint lacks
 * @param unexpected checkpoint names (under the prefix) that the configuration does not expect
 * @param misshaped "name: [found] expected [shape]" for tensors of the wrong shape
 */
public record CheckpointValidation(
    Path checkpoint, List<String> missing, List<String> unexpected, List<String> misshaped) {

  public CheckpointValidation {
    missing = List.copyOf(missing);
    unexpected = List.copyOf(unexpected);
    misshaped = List.copyOf(misshaped);
  }

  /**
   * Compares {@code reader}'s tensors with {@code expected}. Only checkpoint names starting with
   * {@code prefix} count as unexpected ("" checks every name; "vision_model." checks a SigLIP tower
   * inside a full SigLIP checkpoint that also holds the text model).
   */
  public static CheckpointValidation check(
      CheckpointReader reader, ParameterSet expected, String prefix) throws IOException {
    List<String> missing = new ArrayList<>();
    List<String> misshaped = new ArrayList<>();
    for (ParameterSpec spec : expected.specs()) {
      if (!reader.contains(spec.name())) {
        missing.add(spec.name());
        continue;
      }
      long[] found = reader.info(spec.name()).shape();
      long[] wanted = Arrays.stream(spec.shape()).asLongStream().toArray();
      if (!Arrays.equals(found, wanted)) {
        misshaped.add(
            spec.name()
                + ": "
                + Arrays.toString(found)
                + " expected "
                + Arrays.toString(spec.shape()));
      }
    }
    List<String> unexpected = new ArrayList<>();
    for (String name : reader.names()) {
      if (name.startsWith(prefix) && expected.get(name) == null) {
        unexpected.add(name);
      }
    }
    return new CheckpointValidation(reader.path(), missing, unexpected, misshaped);
  }

  /** Opens {@code directory} ({@link SafetensorsDirectory}) and throws unless it matches. */
  public static void require(Path directory, ParameterSet expected, String prefix)
      throws IOException {
    try (SafetensorsDirectory reader = SafetensorsDirectory.open(directory)) {
      check(reader, expected, prefix).throwIfInvalid(expected.model());
    }
  }

  public boolean valid() {
    return missing.isEmpty() && unexpected.isEmpty() && misshaped.isEmpty();
  }

  /** Throws an {@link IOException} listing every problem unless the checkpoint matched. */
  public void throwIfInvalid(String model) throws IOException {
    if (!valid()) {
      throw new IOException(describe(model));
    }
  }

  /** A readable list of problems. */
  public String describe(String model) {
    if (valid()) {
      return checkpoint + " matches the " + model + " configuration";
    }
    StringBuilder text =
        new StringBuilder(checkpoint + " does not match the " + model + " configuration:");
    section(text, "missing", missing);
    section(text, "unexpected", unexpected);
    section(text, "wrong shape", misshaped);
    return text.toString();
  }

  private static void section(StringBuilder text, String title, List<String> names) {
    if (names.isEmpty()) {
      return;
    }
    text.append("\n  ").append(names.size()).append(' ').append(title).append(':');
    int shown = Math.min(names.size(), 20);
    for (int i = 0; i < shown; i++) {
      text.append("\n    ").append(names.get(i));
    }
    if (names.size() > shown) {
      text.append("\n    ... and ").append(names.size() - shown).append(" more");
    }
  }
}
