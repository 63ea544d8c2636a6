package dev.tessera.curator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.packed.PackedLayout;
import dev.tessera.data.packed.PackedSequence;
import dev.tessera.data.packed.PackedShards;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * {@code inspect} of a packed set: the layout, {@code stats.json}, manifest checksums and every
 * sequence checked against its invariants — or, with {@code --json}, one line per sequence for
 * tools that verify a packing.
 */
final class PackedInspection {
  private static final ObjectMapper JSON = new ObjectMapper();

  private PackedInspection() {}

  /** The images of sequence {@code s} that cannot be decoded, as the trainer would find them. */
  private static List<String> undecodable(long s, PackedSequence sequence) {
    List<String> problems = new ArrayList<>();
    List<ByteBuffer> images = sequence.images();
    for (int i = 0; i < images.size(); i++) {
      ByteBuffer image = images.get(i).asReadOnlyBuffer();
      byte[] bytes = new byte[image.remaining()];
      image.get(bytes);
      String why;
      try {
        why =
            ImageIO.read(new ByteArrayInputStream(bytes)) == null
                ? "no image reader accepts it"
                : null;
      } catch (IOException | RuntimeException e) {
        why = String.valueOf(e.getMessage());
      }
      if (why != null) {
        problems.add("sequence " + s + ": image " + i + " cannot be decoded (" + why + ")");
      }
    }
    return problems;
  }

  static int run(Path dir, boolean json, int show, boolean decodeImages, PrintWriter out)
      throws IOException {
    try (PackedShards packed = PackedShards.open(dir)) {
      if (json) {
        for (int shard = 0; shard < packed.shardCount(); shard++) {
          String name = packed.manifest().shards().get(shard).name();
          for (int k = 0; k < packed.sequencesIn(shard); k++) {
            out.println(packed.read(shard, k).summaryLine(name));
          }
        }
        out.flush();
        return 0;
      }
      PackedLayout layout = packed.layout();
      out.printf(
          Locale.ROOT,
          "packed set: %d shards, %d sequences of %d tokens, %d image tokens per image, images %s%n",
          packed.shardCount(),
          packed.sequenceCount(),
          layout.sequenceLength(),
          layout.imageTokens(),
          layout.imageSize() == 0 ? "as stored" : layout.imageSize() + "x" + layout.imageSize());
      Path statsFile = dir.resolve("stats.json");
      if (Files.isRegularFile(statsFile)) {
        JsonNode stats = JSON.readTree(statsFile.toFile());
        out.printf(
            Locale.ROOT,
            "stats: %s samples, %s dropped, %s truncated, fill ratio %s, %s sequences (lower"
                + " bound %s)%n",
            stats.path("samples"),
            stats.path("dropped"),
            stats.path("truncated"),
            stats.path("fill_ratio"),
            stats.path("sequences"),
            stats.path("lower_bound_sequences"));
      }
      List<String> problems = new ArrayList<>(packed.verify());
      out.println(
          problems.isEmpty()
              ? "manifest: checksums match"
              : "manifest: " + problems.size() + " files do not match");
      long samples = 0;
      long tokens = 0;
      for (long s = 0; s < packed.sequenceCount(); s++) {
        try {
          PackedSequence sequence = packed.read(s);
          samples += sequence.samples().size();
          tokens += sequence.length();
          problems.addAll(sequence.problems(layout));
          if (decodeImages) {
            problems.addAll(undecodable(s, sequence));
          }
        } catch (IOException e) {
          problems.add(e.getMessage());
        }
      }
      out.printf(
          Locale.ROOT,
          "sequences: %d samples, %d tokens, fill ratio %.4f%n",
          samples,
          tokens,
          packed.sequenceCount() == 0
              ? 0.0
              : (double) tokens / (packed.sequenceCount() * layout.sequenceLength()));
      if (problems.isEmpty()) {
        out.println("problems: none");
      } else {
        out.printf("problems: %d%n", problems.size());
        problems.stream().limit(Math.max(show, 0)).forEach(line -> out.println("  " + line));
      }
      out.flush();
      return problems.isEmpty() ? 0 : InspectCommand.PROBLEMS_FOUND;
    }
  }
}
