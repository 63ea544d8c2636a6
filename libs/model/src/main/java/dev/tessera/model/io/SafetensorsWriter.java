package dev.tessera.model.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.data.io.AtomicFiles;
import dev.tessera.engine.DType;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Collects named fp32 values and writes them as one safetensors file, stored as F32, BF16 or F16
 * (rounded to nearest even). The header lists tensors in insertion order with consecutive
 * data_offsets, optionally preceded by {@code __metadata__}, and is padded with spaces so the data
 * section starts at a multiple of 8 bytes, as the Python library writes it. The file appears
 * atomically ({@link AtomicFiles}): a reader never sees half a checkpoint.
 */
public final class SafetensorsWriter {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int CHUNK_ELEMENTS = 1 << 18;

  private record Entry(String name, DType dtype, int[] shape, float[] values, int offset) {
    long elements() {
      long count = 1;
      for (int dim : shape) {
        count *= dim;
      }
      return count;
    }

    long bytes() {
      return elements() * dtype.bytes();
    }
  }

  private final Map<String, Entry> entries = new LinkedHashMap<>();
  private final Map<String, String> metadata = new LinkedHashMap<>();

  /** Adds a {@code __metadata__} entry. */
  public SafetensorsWriter metadata(String key, String value) {
    metadata.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
    return this;
  }

  /** Adds {@code values} (row-major, not copied: do not change them before {@link #write}). */
  public SafetensorsWriter add(String name, DType dtype, int[] shape, float[] values) {
    return add(name, dtype, shape, values, 0);
  }

  /** Adds a tensor's values; CPU tensors are read in place at {@link #write} time. */
  public SafetensorsWriter add(String name, DType dtype, Tensor tensor) {
    if (tensor.storage() instanceof float[]) {
      return add(name, dtype, tensor.shape(), CpuBackend.data(tensor), CpuBackend.offset(tensor));
    }
    return add(name, dtype, tensor.shape(), tensor.backend().toHost(tensor), 0);
  }

  private SafetensorsWriter add(String name, DType dtype, int[] shape, float[] values, int offset) {
    Objects.requireNonNull(dtype, "dtype");
    if (name == null || name.isEmpty() || "__metadata__".equals(name)) {
      throw new IllegalArgumentException("invalid tensor name '" + name + "'");
    }
    if (entries.containsKey(name)) {
      throw new IllegalArgumentException("tensor '" + name + "' added twice");
    }
    Entry entry = new Entry(name, dtype, shape.clone(), values, offset);
    for (int dim : shape) {
      if (dim < 0) {
        throw new IllegalArgumentException(
            name + " has negative dimension in " + Arrays.toString(shape));
      }
    }
    if (offset + entry.elements() > values.length) {
      throw new IllegalArgumentException(
          name
              + " of shape "
              + Arrays.toString(shape)
              + " needs "
              + entry.elements()
              + " values, got "
              + (values.length - offset));
    }
    entries.put(name, entry);
    return this;
  }

  /** The header bytes (JSON plus padding spaces) this writer would write. */
  byte[] header() {
    ObjectNode root = JSON.createObjectNode();
    if (!metadata.isEmpty()) {
      ObjectNode meta = root.putObject("__metadata__");
      metadata.forEach(meta::put);
    }
    long offset = 0;
    for (Entry entry : entries.values()) {
      ObjectNode node = root.putObject(entry.name());
      node.put("dtype", SafetensorsDType.of(entry.dtype()).name());
      ArrayNode shape = node.putArray("shape");
      for (int dim : entry.shape()) {
        shape.add(dim);
      }
      ArrayNode offsets = node.putArray("data_offsets");
      offsets.add(offset);
      offset += entry.bytes();
      offsets.add(offset);
    }
    byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
    int padded = (json.length + 7) / 8 * 8;
    byte[] header = Arrays.copyOf(json, padded);
    Arrays.fill(header, json.length, padded, (byte) ' ');
    return header;
  }

  /** Writes the file atomically, replacing {@code target}. */
  public void write(Path target) throws IOException {
    Path parent = target.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Path temporary = AtomicFiles.inProgress(target);
    try {
      try (FileChannel channel =
          FileChannel.open(
              temporary,
              StandardOpenOption.CREATE,
              StandardOpenOption.WRITE,
              StandardOpenOption.TRUNCATE_EXISTING)) {
        byte[] header = header();
        ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        prefix.putLong(header.length).flip();
        writeFully(channel, prefix);
        writeFully(channel, ByteBuffer.wrap(header));
        ByteBuffer chunk =
            ByteBuffer.allocate(CHUNK_ELEMENTS * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (Entry entry : entries.values()) {
          writeData(channel, entry, chunk);
        }
      }
      AtomicFiles.commit(temporary, target);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(temporary);
      throw e;
    }
  }

  private static void writeData(FileChannel channel, Entry entry, ByteBuffer chunk)
      throws IOException {
    long elements = entry.elements();
    float[] values = entry.values();
    for (long done = 0; done < elements; ) {
      int count = (int) Math.min(CHUNK_ELEMENTS, elements - done);
      int from = entry.offset() + (int) done;
      chunk.clear();
      for (int i = 0; i < count; i++) {
        float value = values[from + i];
        switch (entry.dtype()) {
          case F32 -> chunk.putFloat(value);
          case BF16 -> chunk.putShort(DType.floatToBf16(value));
          case F16 -> chunk.putShort(DType.floatToF16(value));
        }
      }
      chunk.flip();
      writeFully(channel, chunk);
      done += count;
    }
  }

  private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
    while (buffer.hasRemaining()) {
      channel.write(buffer);
    }
  }
}
