package dev.tessera.model.io;

import dev.tessera.engine.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * A checkpoint whose tensors are read under other names: a name starting with {@code prefix} is
 * looked up with that prefix replaced by {@code storedPrefix} — e.g. the projector's {@code
 * projector.0.weight} as LLaVA stores it, {@code model.mm_projector.0.weight}. Only names of that
 * form are visible. Closing it does not close the checkpoint underneath.
 */
public final class RenamedCheckpoint implements CheckpointReader {
  private final CheckpointReader stored;
  private final String prefix;
  private final String storedPrefix;

  public RenamedCheckpoint(CheckpointReader stored, String prefix, String storedPrefix) {
    this.stored = stored;
    this.prefix = prefix;
    this.storedPrefix = storedPrefix;
  }

  private String storedName(String name) throws IOException {
    if (!name.startsWith(prefix)) {
      throw new IOException(
          stored.path() + ": no tensor " + name + " (names start " + prefix + ")");
    }
    return storedPrefix + name.substring(prefix.length());
  }

  @Override
  public Path path() {
    return stored.path();
  }

  @Override
  public Set<String> names() {
    Set<String> names = new LinkedHashSet<>();
    for (String name : stored.names()) {
      if (name.startsWith(storedPrefix)) {
        names.add(prefix + name.substring(storedPrefix.length()));
      }
    }
    return names;
  }

  @Override
  public TensorInfo info(String name) throws IOException {
    return stored.info(storedName(name));
  }

  @Override
  public float[] readFloats(String name) throws IOException {
    return stored.readFloats(storedName(name));
  }

  @Override
  public void readInto(String name, Tensor target) throws IOException {
    stored.readInto(storedName(name), target);
  }

  @Override
  public Map<String, String> metadata() {
    return stored.metadata();
  }

  @Override
  public void close() {}
}
