package dev.tessera.model.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Hugging Face model directory: one {@code model.safetensors}, or shards listed by {@code
 * model.safetensors.index.json} ({@code {"metadata": {...}, "weight_map": {tensor: shard}}}). Names
 * resolve across shards; every shard is opened (and its header checked) up front, and every tensor
 * the index names must be in its shard.
 */
public final class SafetensorsDirectory implements CheckpointReader {
  public static final String SINGLE_FILE = "model.safetensors";
  public static final String INDEX_FILE = "model.safetensors.index.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path path;
  private final List<SafetensorsFile> files;
  private final Map<String, SafetensorsFile> byName;
  private final Map<String, String> metadata;

  private SafetensorsDirectory(
      Path path,
      List<SafetensorsFile> files,
      Map<String, SafetensorsFile> byName,
      Map<String, String> metadata) {
    this.path = path;
    this.files = files;
    this.byName = byName;
    this.metadata = metadata;
  }

  /**
   * Opens a model directory (index first, then {@code model.safetensors}) or, given a file, that
   * one safetensors file.
   */
  public static SafetensorsDirectory open(Path path) throws IOException {
    if (Files.isRegularFile(path)) {
      return single(path, path);
    }
    if (!Files.isDirectory(path)) {
      throw new IOException(path + ": no such checkpoint directory or file");
    }
    Path index = path.resolve(INDEX_FILE);
    if (Files.isRegularFile(index)) {
      return sharded(path, index);
    }
    Path single = path.resolve(SINGLE_FILE);
    if (Files.isRegularFile(single)) {
      return single(path, single);
    }
    throw new IOException(path + ": neither " + SINGLE_FILE + " nor " + INDEX_FILE + " found");
  }

  private static SafetensorsDirectory single(Path path, Path file) throws IOException {
    SafetensorsFile opened = SafetensorsFile.open(file);
    Map<String, SafetensorsFile> byName = new LinkedHashMap<>();
    for (String name : opened.names()) {
      byName.put(name, opened);
    }
    return new SafetensorsDirectory(
        path, List.of(opened), Collections.unmodifiableMap(byName), opened.metadata());
  }

  private static SafetensorsDirectory sharded(Path directory, Path index) throws IOException {
    JsonNode root;
    try {
      root = JSON.readTree(index.toFile());
    } catch (JsonProcessingException e) {
      throw new IOException(index + ": not valid JSON: " + e.getOriginalMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IOException(index + ": not a JSON object");
    }
    JsonNode weightMap = root.get("weight_map");
    if (weightMap == null || !weightMap.isObject()) {
      throw new IOException(index + ": no weight_map object");
    }
    Map<String, String> metadata = new LinkedHashMap<>();
    JsonNode meta = root.get("metadata");
    if (meta != null && meta.isObject()) {
      meta.properties().forEach(e -> metadata.put(e.getKey(), e.getValue().asText()));
    }
    Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
    Map<String, SafetensorsFile> byName = new LinkedHashMap<>();
    try {
      Iterator<Map.Entry<String, JsonNode>> entries = weightMap.properties().iterator();
      while (entries.hasNext()) {
        Map.Entry<String, JsonNode> entry = entries.next();
        String tensor = entry.getKey();
        if (!entry.getValue().isTextual()) {
          throw new IOException(index + ": shard of tensor '" + tensor + "' is not a string");
        }
        String shardName = entry.getValue().textValue();
        SafetensorsFile shard = shards.get(shardName);
        if (shard == null) {
          Path shardPath = directory.resolve(shardName).normalize();
          if (shardName.isEmpty()
              || !directory.normalize().equals(shardPath.getParent())
              || !shardPath.getFileName().toString().equals(shardName)) {
            throw new IOException(
                index
                    + ": shard '"
                    + shardName
                    + "' of tensor '"
                    + tensor
                    + "' is not a file name");
          }
          if (!Files.isRegularFile(shardPath)) {
            throw new IOException(
                index + ": shard " + shardName + " (holding tensor '" + tensor + "') is missing");
          }
          shard = SafetensorsFile.open(shardPath);
          shards.put(shardName, shard);
        }
        if (!shard.contains(tensor)) {
          throw new IOException(
              index + ": tensor '" + tensor + "' is not in its shard " + shard.path());
        }
        byName.put(tensor, shard);
      }
    } catch (IOException | RuntimeException e) {
      for (SafetensorsFile shard : shards.values()) {
        shard.close();
      }
      throw e;
    }
    return new SafetensorsDirectory(
        directory,
        List.copyOf(shards.values()),
        Collections.unmodifiableMap(byName),
        Collections.unmodifiableMap(metadata));
  }

  @Override
  public Path path() {
    return path;
  }

  /** The safetensors files read, in the order the index first names them. */
  public List<Path> files() {
    List<Path> paths = new ArrayList<>();
    for (SafetensorsFile file : files) {
      paths.add(file.path());
    }
    return paths;
  }

  /** The file that holds {@code name}. */
  public Path fileOf(String name) throws IOException {
    return file(name).path();
  }

  @Override
  public Set<String> names() {
    return byName.keySet();
  }

  @Override
  public TensorInfo info(String name) throws IOException {
    return file(name).info(name);
  }

  @Override
  public float[] readFloats(String name) throws IOException {
    return file(name).readFloats(name);
  }

  @Override
  public void readInto(String name, Tensor target) throws IOException {
    file(name).readInto(name, target);
  }

  @Override
  public Map<String, String> metadata() {
    return metadata;
  }

  private SafetensorsFile file(String name) throws IOException {
    SafetensorsFile file = byName.get(name);
    if (file == null) {
      throw new IOException(path + ": no tensor '" + name + "' in the checkpoint");
    }
    return file;
  }

  @Override
  public void close() throws IOException {
    IOException failure = null;
    for (SafetensorsFile file : files) {
      try {
        file.close();
      } catch (IOException e) {
        failure = failure == null ? e : failure;
      }
    }
    if (failure != null) {
      throw failure;
    }
  }
}
