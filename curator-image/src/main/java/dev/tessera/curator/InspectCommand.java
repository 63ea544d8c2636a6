package dev.tessera.curator;

import dev.tessera.data.manifest.ShardManifest;
import dev.tessera.data.packed.PackedShards;
import dev.tessera.data.webdataset.Problem;
import dev.tessera.data.webdataset.ReadOptions;
import dev.tessera.data.webdataset.ReadReport;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.WebDatasetReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code tessera-curator inspect SHARDS}: reads every sample of a shard set, checks the manifest
 * when there is one, and reports what it holds and what is wrong with it, by shard and key.
 */
@Command(
    name = "inspect",
    mixinStandardHelpOptions = true,
    description = {
      "Report what a Tessera output holds and every problem found: WebDataset shards (every",
      "sample read), packed sets (every sequence checked) or a Hugging Face model directory.",
      "Exit code 0: clean; 3: problems found; 1: the shards could not be listed."
    })
final class InspectCommand implements Callable<Integer> {
  static final int PROBLEMS_FOUND = 3;

  @Parameters(
      paramLabel = "SHARDS",
      description = "A directory, a tar file, or a brace pattern such as 'raw/{00000..00099}.tar'.")
  String shards;

  @Option(names = "--allow-missing", description = "Skip shards a brace pattern names but lacks.")
  boolean allowMissing;

  @Option(
      names = "--max-member-bytes",
      description = "Members above this size are refused (default ${DEFAULT-VALUE}).")
  long maxMemberBytes = ReadOptions.DEFAULT_MAX_MEMBER_BYTES;

  @Option(
      names = "--any-sample",
      description = "Accept samples without image or caption (default: both required).")
  boolean anySample;

  @Option(names = "--show", description = "Problems to list in detail (default ${DEFAULT-VALUE}).")
  int show = 20;

  @Option(
      names = "--json",
      description =
          "Packed sets: one JSON object per line per sequence (shard, sequence, tokens, samples"
              + " with uid, key and length).")
  boolean json;

  @Option(
      names = "--decode-images",
      description =
          "Packed sets: decode every stored image too, naming those that cannot be (what the"
              + " trainer passes over as damaged sequences). Slower: every image is read.")
  boolean decodeImages;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    Path dir = Path.of(shards);
    if (Files.isDirectory(dir) && PackedShards.isPacked(dir)) {
      return PackedInspection.run(dir, json, show, decodeImages, out);
    }
    if (json || decodeImages) {
      throw new UserError(
          (json ? "--json" : "--decode-images") + " is for packed sets; " + shards + " is not one");
    }
    if (Files.isDirectory(dir) && CheckpointInspection.isCheckpoint(dir)) {
      return CheckpointInspection.run(dir, out);
    }
    List<Path> files = UserError.resolveShards(shards, allowMissing);

    boolean manifestOk = checkManifest(out);

    ReadOptions base = anySample ? ReadOptions.anySample() : ReadOptions.defaults();
    ReadOptions options =
        new ReadOptions(
            maxMemberBytes, base.requireImage(), base.requireCaption(), Math.max(show, 0));
    Map<String, Long> extensions = new TreeMap<>();
    ReadReport report;
    try (WebDatasetReader reader = WebDatasetReader.open(files, options)) {
      while (reader.hasNext()) {
        Sample sample = reader.next();
        sample.buffers().keySet().forEach(ext -> extensions.merge(ext, 1L, Long::sum));
      }
      report = reader.report();
    }

    out.printf(
        "%d shards, %d samples, %.1f MB of members, %d samples dropped%n",
        report.shards(), report.samples(), report.memberBytes() / 1e6, report.droppedSamples());
    out.printf("members: %s%n", extensions);
    if (report.problemCount() == 0) {
      out.println("problems: none");
    } else {
      out.printf("problems: %d %s%n", report.problemCount(), report.counts());
      for (Problem problem : report.problems()) {
        out.println("  " + problem);
      }
      if (report.problemCount() > report.problems().size()) {
        out.printf("  ... %d more%n", report.problemCount() - report.problems().size());
      }
    }
    out.flush();
    return report.problemCount() == 0 && manifestOk ? 0 : PROBLEMS_FOUND;
  }

  /** Verifies {@code manifest.json} when the shards are a directory that has one. */
  private boolean checkManifest(PrintWriter out) throws IOException {
    Path dir = Path.of(shards);
    if (!Files.isDirectory(dir) || !Files.exists(dir.resolve(ShardManifest.FILE_NAME))) {
      return true;
    }
    ShardManifest manifest;
    try {
      manifest = ShardManifest.read(dir);
    } catch (IOException e) {
      out.println("manifest: " + e.getMessage());
      return false;
    }
    List<String> mismatches = manifest.verify(dir);
    if (mismatches.isEmpty()) {
      out.printf(
          "manifest: %d shards, %d samples, checksums match%n",
          manifest.shardCount(), manifest.samples());
      return true;
    }
    out.printf("manifest: %d shards do not match%n", mismatches.size());
    mismatches.forEach(line -> out.println("  " + line));
    return false;
  }
}
