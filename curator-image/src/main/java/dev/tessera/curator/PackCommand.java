package dev.tessera.curator;

import dev.tessera.curator.pack.PackException;
import dev.tessera.curator.pack.PackOptions;
import dev.tessera.curator.pack.PackStats;
import dev.tessera.curator.pack.Packer;
import dev.tessera.data.packing.PackingAlgorithm;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tessera-curator pack}: the PackJob worker (see {@code docs/packing.md}). */
@Command(
    name = "pack",
    mixinStandardHelpOptions = true,
    description = {
      "Tokenises image-caption samples in Open-Qwen2VL's layout and packs all of them together"
          + " into fixed-length sequences with first-fit decreasing; writes packed shards, their"
          + " indexes, manifest.json and stats.json to OUT.",
      "Killed, it continues with --resume and gives the same bytes."
    })
final class PackCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin WorkerOptions worker;

  /** One {@code --input} and the {@code --repeat} that may follow it. */
  static final class Input {
    @Option(
        names = "--input",
        required = true,
        paramLabel = "SHARDS",
        description =
            "A directory, a tar file, or a brace pattern such as 'raw/{00000..00099}.tar'; repeat"
                + " it to pack several sets together (their shards in the order given).")
    String shards;

    @Option(
        names = "--repeat",
        paramLabel = "R",
        description =
            "How many times the samples of the --input before it are packed: 2 twice, 0.5 a fixed"
                + " half of them, 1.5 all once and a fixed half again; copies never share a"
                + " sequence (default: 1).")
    double repeat = 1;
  }

  @ArgGroup(exclusive = false, multiplicity = "1..*")
  List<Input> inputs;

  @Option(names = "--allow-missing", description = "Skip shards a brace pattern names but lacks.")
  boolean allowMissing;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory.")
  Path out;

  @Option(
      names = "--tokenizer",
      required = true,
      paramLabel = "FILE",
      description = "A Qwen2-family tokenizer.json.")
  Path tokenizer;

  @Option(
      names = "--seq-len",
      paramLabel = "L",
      description = "Tokens per sequence (default: ${DEFAULT-VALUE}).")
  int sequenceLength = PackOptions.DEFAULT_SEQUENCE_LENGTH;

  @Option(
      names = "--image-tokens",
      paramLabel = "K",
      description = "Visual tokens per image (default: ${DEFAULT-VALUE}, 12x12 pooled patches).")
  int imageTokens = PackOptions.DEFAULT_IMAGE_TOKENS;

  @Option(
      names = "--image-size",
      paramLabel = "S",
      description =
          "Images are resized to SxS (the vision tower's input) and stored as JPEG; 0 keeps them"
              + " as they are (default: ${DEFAULT-VALUE}).")
  int imageSize = PackOptions.DEFAULT_IMAGE_SIZE;

  @Option(
      names = "--jpeg-quality",
      paramLabel = "Q",
      description = "JPEG quality of resized images, 1..100 (default: ${DEFAULT-VALUE}).")
  int jpegQuality = PackOptions.DEFAULT_JPEG_QUALITY;

  @Option(
      names = "--max-image-pixels",
      paramLabel = "N",
      description = "Larger images are dropped before decoding (default: ${DEFAULT-VALUE}).")
  long maxImagePixels = PackOptions.DEFAULT_MAX_IMAGE_PIXELS;

  @Option(
      names = "--algorithm",
      paramLabel = "ffd|bfd|fill",
      description =
          "First-fit decreasing (Open-Qwen2VL's), best-fit decreasing, or exact fill (sequences"
              + " closed to the last token: within a few sequences of the lower bound) (default:"
              + " ${DEFAULT-VALUE}).")
  String algorithm = "ffd";

  @Option(
      names = "--overlong",
      paramLabel = "truncate|drop",
      description =
          "Samples longer than a sequence: cut the caption to fit (keeping its end token) or drop"
              + " them (default: ${DEFAULT-VALUE}).")
  String overlong = "truncate";

  @Option(
      names = "--sequences-per-shard",
      paramLabel = "N",
      description = "Sequences in each output shard (default: ${DEFAULT-VALUE}).")
  int sequencesPerShard = PackOptions.DEFAULT_SEQUENCES_PER_SHARD;

  @Option(names = "--resume", description = "Continue an interrupted run in OUT.")
  boolean resume;

  @Option(names = "--keep-work", description = "Keep OUT/.work (scan files) after success.")
  boolean keepWork;

  @Override
  public Integer call() throws IOException {
    List<List<Path>> named =
        UserError.resolveShards(inputs.stream().map(input -> input.shards).toList(), allowMissing);
    List<Path> shards = new ArrayList<>();
    List<Double> repeats = new ArrayList<>();
    for (int i = 0; i < inputs.size(); i++) {
      shards.addAll(named.get(i));
      repeats.addAll(Collections.nCopies(named.get(i).size(), inputs.get(i).repeat));
    }
    PackOptions options;
    try {
      options =
          new PackOptions(
              shards,
              repeats,
              out,
              tokenizer,
              sequenceLength,
              imageTokens,
              imageSize,
              jpegQuality,
              maxImagePixels,
              PackingAlgorithm.parse(algorithm),
              parseOverlong(overlong),
              sequencesPerShard,
              worker.threads(),
              resume,
              keepWork);
    } catch (IllegalArgumentException e) {
      throw new UserError(e.getMessage());
    }
    if (!tokenizer.toFile().isFile()) {
      throw new UserError("no tokenizer at " + tokenizer);
    }
    PackStats stats;
    try {
      stats = Packer.run(options, spec.commandLine().getErr(), worker.progress("PackJob"));
    } catch (PackException e) {
      throw new UserError(e.getMessage());
    }
    PrintWriter printer = spec.commandLine().getOut();
    printer.printf(
        Locale.ROOT,
        "pack: %d samples -> %d sequences (lower bound %d, fill ratio %.4f), %d dropped, %d"
            + " truncated%s; %s%n",
        stats.samples(),
        stats.sequences(),
        stats.lowerBoundSequences(),
        stats.fillRatio(),
        stats.dropped(),
        stats.truncated(),
        stats.notChosen() + stats.repeated() == 0
            ? ""
            : String.format(
                Locale.ROOT,
                ", %d not chosen and %d repeated by --repeat",
                stats.notChosen(),
                stats.repeated()),
        out.resolve(PackStats.FILE_NAME));
    printer.flush();
    return 0;
  }

  private static PackOptions.Overlong parseOverlong(String value) {
    for (PackOptions.Overlong rule : PackOptions.Overlong.values()) {
      if (rule.name().equalsIgnoreCase(value)) {
        return rule;
      }
    }
    throw new IllegalArgumentException("--overlong must be truncate or drop, got '" + value + "'");
  }
}
