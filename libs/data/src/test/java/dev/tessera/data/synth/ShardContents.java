package dev.tessera.data.synth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.webdataset.Sample;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/** Reads generated shards back for assertions: samples in order, with their parsed JSON. */
final class ShardContents {
  private static final ObjectMapper JSON = new ObjectMapper();

  private ShardContents() {}

  /** A sample read back, with its JSON parsed. */
  record Read(Sample sample, JsonNode json) {
    String key() {
      return sample.key();
    }

    String caption() {
      return sample.caption().orElseThrow();
    }

    byte[] image() {
      return sample.image().orElseThrow();
    }

    /** The defect type, or {@code null} for a clean sample. */
    String defect() {
      JsonNode defect = json.path("synthetic").path("defect");
      return defect.isNull() ? null : defect.asText();
    }

    /** The decoded image, or {@code null} when ImageIO cannot decode it. */
    BufferedImage decode() {
      try {
        return ImageIO.read(new ByteArrayInputStream(image()));
      } catch (IOException e) {
        return null;
      }
    }
  }

  static List<Path> shardFiles(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".tar")).sorted().toList();
    }
  }

  static List<Read> read(Path dir) throws IOException {
    List<Read> all = new ArrayList<>();
    for (Path shard : shardFiles(dir)) {
      Map<String, Map<String, byte[]>> byKey = new LinkedHashMap<>();
      try (InputStream in = Files.newInputStream(shard);
          TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
        for (TarArchiveEntry entry; (entry = tar.getNextEntry()) != null; ) {
          String name = entry.getName();
          int dot = name.indexOf('.');
          byKey
              .computeIfAbsent(name.substring(0, dot), k -> new LinkedHashMap<>())
              .put(name.substring(dot + 1), tar.readAllBytes());
        }
      }
      for (Map.Entry<String, Map<String, byte[]>> e : byKey.entrySet()) {
        Map<String, ByteBuffer> members = new LinkedHashMap<>();
        e.getValue().forEach((extension, bytes) -> members.put(extension, ByteBuffer.wrap(bytes)));
        Sample sample = new Sample(shard.getFileName().toString(), e.getKey(), members);
        all.add(new Read(sample, parse(sample.json().orElseThrow())));
      }
    }
    return all;
  }

  private static JsonNode parse(byte[] json) {
    try {
      return JSON.readTree(json);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
