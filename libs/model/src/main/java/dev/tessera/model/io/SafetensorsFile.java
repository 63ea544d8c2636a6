package dev.tessera.model.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.DType;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.MappedByteBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A memory-mapped safetensors file: an 8-byte little-endian header length, a JSON header {@code
 * {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}}, then the data
 * section that the offsets index. The header is parsed and checked on {@link #open}; tensor data is
 * mapped only when read, in windows of at most 1 GiB, so files and tensors beyond 2 GiB work and
 * nothing is read into the heap except the converted floats.
 */
public final class SafetensorsFile implements CheckpointReader {
  /** The Python library's limit; a larger header is hostile, not a checkpoint. */
  static final long MAX_HEADER_BYTES = 100_000_000L;

  static final long DEFAULT_WINDOW_BYTES = 1L << 30;
  private static final int MAX_ARRAY = Integer.MAX_VALUE - 8;
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  private final Path path;
  private final FileChannel channel;
  private final long windowBytes;
  private final Map<String, TensorInfo> tensors;
  private final Map<String, String> metadata;

  private SafetensorsFile(
      Path path,
      FileChannel channel,
      long windowBytes,
      Map<String, TensorInfo> tensors,
      Map<String, String> metadata) {
    this.path = path;
    this.channel = channel;
    this.windowBytes = windowBytes;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  /** Opens and validates {@code path}; the caller closes it. */
  public static SafetensorsFile open(Path path) throws IOException {
    return open(path, DEFAULT_WINDOW_BYTES);
  }

  /**
   * As {@link #open(Path)}, mapping at most {@code windowBytes} at a time (tests use tiny ones).
   */
  static SafetensorsFile open(Path path, long windowBytes) throws IOException {
    if (windowBytes < 8 || windowBytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("window of " + windowBytes + " bytes");
    }
    FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
    try {
      long size = channel.size();
      if (size < 8) {
        throw new IOException(
            path + ": " + size + " bytes is too short for a safetensors header length");
      }
      ByteBuffer lengthBytes = readFully(channel, 0, 8, path).order(ByteOrder.LITTLE_ENDIAN);
      long headerLength = lengthBytes.getLong(0);
      if (headerLength < 0 || headerLength > size - 8) {
        throw new IOException(
            path
                + ": header length "
                + Long.toUnsignedString(headerLength)
                + " exceeds the file size of "
                + size
                + " bytes");
      }
      if (headerLength > MAX_HEADER_BYTES) {
        throw new IOException(
            path + ": header length " + headerLength + " exceeds " + MAX_HEADER_BYTES + " bytes");
      }
      byte[] header = new byte[(int) headerLength];
      readFully(channel, 8, (int) headerLength, path).get(header);
      long dataStart = 8 + headerLength;
      Map<String, String> metadata = new LinkedHashMap<>();
      Map<String, TensorInfo> tensors = parseHeader(path, header, dataStart, size, metadata);
      return new SafetensorsFile(
          path,
          channel,
          windowBytes,
          Collections.unmodifiableMap(tensors),
          Collections.unmodifiableMap(metadata));
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  private static ByteBuffer readFully(FileChannel channel, long position, int length, Path path)
      throws IOException {
    ByteBuffer buffer = ByteBuffer.allocate(length);
    while (buffer.hasRemaining()) {
      if (channel.read(buffer, position + buffer.position()) < 0) {
        throw new IOException(path + ": unexpected end of file at " + buffer.position());
      }
    }
    return buffer.flip();
  }

  private static Map<String, TensorInfo> parseHeader(
      Path path, byte[] header, long dataStart, long fileSize, Map<String, String> metadata)
      throws IOException {
    JsonNode root;
    try {
      root = JSON.readTree(header);
    } catch (JsonProcessingException e) {
      throw new IOException(path + ": header is not valid JSON: " + e.getOriginalMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IOException(path + ": header is not a JSON object");
    }
    long dataSize = fileSize - dataStart;
    Map<String, TensorInfo> tensors = new LinkedHashMap<>();
    Iterator<Map.Entry<String, JsonNode>> fields = root.properties().iterator();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      String name = field.getKey();
      JsonNode entry = field.getValue();
      if ("__metadata__".equals(name)) {
        parseMetadata(path, entry, metadata);
        continue;
      }
      tensors.put(name, parseEntry(path, name, entry, dataStart, dataSize));
    }
    List<TensorInfo> byOffset = new ArrayList<>(tensors.values());
    byOffset.sort(Comparator.comparingLong(TensorInfo::byteOffset));
    TensorInfo previous = null;
    for (TensorInfo info : byOffset) {
      if (info.byteLength() == 0) {
        continue;
      }
      if (previous != null && info.byteOffset() < previous.byteOffset() + previous.byteLength()) {
        throw new IOException(
            path
                + ": tensor '"
                + info.name()
                + "' overlaps tensor '"
                + previous.name()
                + "' in the data section");
      }
      previous = info;
    }
    return tensors;
  }

  private static void parseMetadata(Path path, JsonNode entry, Map<String, String> metadata)
      throws IOException {
    if (!entry.isObject()) {
      throw new IOException(path + ": __metadata__ is not a JSON object");
    }
    Iterator<Map.Entry<String, JsonNode>> items = entry.properties().iterator();
    while (items.hasNext()) {
      Map.Entry<String, JsonNode> item = items.next();
      if (!item.getValue().isTextual()) {
        throw new IOException(
            path + ": __metadata__ value of '" + item.getKey() + "' is not a string");
      }
      metadata.put(item.getKey(), item.getValue().textValue());
    }
  }

  private static TensorInfo parseEntry(
      Path path, String name, JsonNode entry, long dataStart, long dataSize) throws IOException {
    String where = path + ": tensor '" + name + "'";
    if (!entry.isObject()) {
      throw new IOException(where + " is not a JSON object");
    }
    JsonNode dtypeNode = entry.get("dtype");
    if (dtypeNode == null || !dtypeNode.isTextual()) {
      throw new IOException(where + " has no dtype string");
    }
    SafetensorsDType dtype =
        SafetensorsDType.parse(dtypeNode.textValue())
            .orElseThrow(
                () ->
                    new IOException(where + " has unknown dtype '" + dtypeNode.textValue() + "'"));
    JsonNode shapeNode = entry.get("shape");
    if (shapeNode == null || !shapeNode.isArray()) {
      throw new IOException(where + " has no shape array");
    }
    long[] shape = new long[shapeNode.size()];
    for (int i = 0; i < shape.length; i++) {
      JsonNode dim = shapeNode.get(i);
      if (!dim.isIntegralNumber() || !dim.canConvertToLong() || dim.longValue() < 0) {
        throw new IOException(where + " has invalid dimension " + dim + " in shape " + shapeNode);
      }
      shape[i] = dim.longValue();
    }
    JsonNode offsets = entry.get("data_offsets");
    if (offsets == null || !offsets.isArray() || offsets.size() != 2) {
      throw new IOException(where + " has no [begin, end] data_offsets");
    }
    for (JsonNode offset : offsets) {
      if (!offset.isIntegralNumber() || !offset.canConvertToLong() || offset.longValue() < 0) {
        throw new IOException(where + " has invalid data_offsets " + offsets);
      }
    }
    long begin = offsets.get(0).longValue();
    long end = offsets.get(1).longValue();
    if (begin > end || end > dataSize) {
      throw new IOException(
          where
              + " has data_offsets "
              + offsets
              + " outside the data section of "
              + dataSize
              + " bytes");
    }
    long expectedBytes;
    try {
      long elements = 1;
      for (long dim : shape) {
        elements = Math.multiplyExact(elements, dim);
      }
      expectedBytes = Math.multiplyExact(elements, dtype.bytes());
    } catch (ArithmeticException e) {
      throw new IOException(where + " has shape " + shapeNode + " too large to address", e);
    }
    if (end - begin != expectedBytes) {
      throw new IOException(
          where
              + " has shape "
              + shapeNode
              + " of "
              + dtype
              + " ("
              + expectedBytes
              + " bytes) but data_offsets "
              + offsets
              + " span "
              + (end - begin)
              + " bytes");
    }
    return new TensorInfo(name, dtype, shape, dataStart + begin, end - begin);
  }

  @Override
  public Path path() {
    return path;
  }

  @Override
  public Set<String> names() {
    return tensors.keySet();
  }

  /** Every header entry, in header order. */
  public List<TensorInfo> tensors() {
    return List.copyOf(tensors.values());
  }

  @Override
  public TensorInfo info(String name) throws IOException {
    TensorInfo info = tensors.get(name);
    if (info == null) {
      throw new IOException(path + ": no tensor '" + name + "'");
    }
    return info;
  }

  @Override
  public Map<String, String> metadata() {
    return metadata;
  }

  /**
   * The tensor's raw little-endian bytes, mapped read-only (for backends that upload bf16 as is).
   * Tensors beyond 2 GiB must be read with {@link #readFloats} or {@link #readInto}.
   */
  public ByteBuffer bytes(String name) throws IOException {
    TensorInfo info = info(name);
    if (info.byteLength() > Integer.MAX_VALUE) {
      throw new IOException(
          path + ": tensor '" + name + "' of " + info.byteLength() + " bytes exceeds one mapping");
    }
    return channel
        .map(FileChannel.MapMode.READ_ONLY, info.byteOffset(), info.byteLength())
        .order(ByteOrder.LITTLE_ENDIAN);
  }

  @Override
  public float[] readFloats(String name) throws IOException {
    TensorInfo info = requireFloat(name);
    long count = info.elementCount();
    if (count > MAX_ARRAY) {
      throw new IOException(
          path + ": tensor '" + name + "' has " + count + " elements, more than one Java array");
    }
    float[] values = new float[(int) count];
    convert(info, values, 0);
    return values;
  }

  @Override
  public void readInto(String name, Tensor target) throws IOException {
    TensorInfo info = requireFloat(name);
    int[] shape = info.intShape();
    if (!Arrays.equals(shape, target.shape())) {
      throw new IOException(
          path
              + ": tensor '"
              + name
              + "' has shape "
              + Arrays.toString(shape)
              + " but the target has shape "
              + Arrays.toString(target.shape()));
    }
    if (target.storage() instanceof float[]) {
      convert(info, CpuBackend.data(target), CpuBackend.offset(target));
    } else {
      target.backend().copyFromHost(readFloats(name), target);
    }
  }

  private TensorInfo requireFloat(String name) throws IOException {
    TensorInfo info = info(name);
    if (!info.dtype().readableAsFloat()) {
      throw new IOException(
          path
              + ": tensor '"
              + name
              + "' has dtype "
              + info.dtype()
              + ", which cannot be read as floats (F32, F16 and BF16 can)");
    }
    return info;
  }

  /** Converts the tensor into {@code target[offset..]}, one mapped window at a time. */
  private void convert(TensorInfo info, float[] target, int offset) throws IOException {
    int elementBytes = info.dtype().bytes();
    long window = windowBytes - windowBytes % elementBytes;
    int next = offset;
    for (long done = 0; done < info.byteLength(); done += window) {
      long length = Math.min(window, info.byteLength() - done);
      MappedByteBuffer mapped =
          channel.map(FileChannel.MapMode.READ_ONLY, info.byteOffset() + done, length);
      mapped.order(ByteOrder.LITTLE_ENDIAN);
      int count = (int) (length / elementBytes);
      switch (info.dtype()) {
        case F32 -> {
          FloatBuffer floats = mapped.asFloatBuffer();
          floats.get(target, next, count);
        }
        case BF16 -> {
          ShortBuffer shorts = mapped.asShortBuffer();
          for (int i = 0; i < count; i++) {
            target[next + i] = DType.bf16ToFloat(shorts.get(i));
          }
        }
        case F16 -> {
          ShortBuffer shorts = mapped.asShortBuffer();
          for (int i = 0; i < count; i++) {
            target[next + i] = DType.f16ToFloat(shorts.get(i));
          }
        }
        default -> throw new IllegalStateException("not a float type: " + info.dtype());
      }
      next += count;
    }
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  @Override
  public String toString() {
    return "SafetensorsFile[" + path + ", " + tensors.size() + " tensors]";
  }
}
