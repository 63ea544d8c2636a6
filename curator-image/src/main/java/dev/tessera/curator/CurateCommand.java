package dev.tessera.curator;

import dev.tessera.curator.curate.CurationSpec;
import dev.tessera.curator.curate.Curator;
import dev.tessera.data.progress.ProgressReporter;
import dev.tessera.engine.Backend;
import dev.tessera.engine.ComputeBackend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tessera-curator curate}: the CurationJob worker (see {@code docs/curation.md}). */
@Command(
    name = "curate",
    mixinStandardHelpOptions = true,
    description = {
      "Filters and deduplicates image-text shards: score (one Parquet table per input shard),"
          + " select (over the whole pool: duplicates, uid lists, the selection rule; kept.tsv,"
          + " uids.npy, stats.json), reshard (the kept samples into new shards with a manifest).",
      "Every phase skips the work already done, so a killed run continues where it stopped."
    })
final class CurateCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin WorkerOptions worker;

  @Option(
      names = "--input",
      paramLabel = "SHARDS",
      description =
          "A directory, a tar file, or a brace pattern such as 'raw/{00000..01302}.tar' (default:"
              + " the config's input).")
  String input;

  @Option(names = "--allow-missing", description = "Skip shards a brace pattern names but lacks.")
  boolean allowMissing;

  @Option(
      names = "--out",
      paramLabel = "DIR",
      description = "Output directory (default: the config's output.path).")
  Path out;

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description =
          "curation.yaml, the shape of CurationJob.spec (default: basic filters and dedup with"
              + " thresholds for web-crawled data).")
  Path config;

  @Option(
      names = "--paths-relative-to",
      paramLabel = "DIR",
      description =
          "Where the config's relative paths (uid lists, model, tokenizer, template file) are"
              + " (default: the config file's folder; the operator passes the storage volume).")
  Path pathsRelativeTo;

  @Option(
      names = "--phase",
      paramLabel = "score|select|reshard|all",
      description = "Which phase to run (default: ${DEFAULT-VALUE}).")
  String phase = "all";

  @Option(
      names = "--shard-index",
      paramLabel = "i",
      description =
          "This worker's index for score and reshard (default: $JOB_COMPLETION_INDEX, else 0).")
  int shardIndex = envInt("JOB_COMPLETION_INDEX", 0);

  @Option(
      names = "--shard-count",
      paramLabel = "n",
      description = "Workers sharing score and reshard (default: ${DEFAULT-VALUE}).")
  int shardCount = 1;

  @Option(
      names = "--backend",
      paramLabel = "cpu|cuda",
      description =
          "Where the model scorers (clipScore, mlmFilter) compute (default: ${DEFAULT-VALUE}).")
  String backend = "cpu";

  private static int envInt(String name, int otherwise) {
    String value = System.getenv(name);
    try {
      return value == null ? otherwise : Integer.parseInt(value.trim());
    } catch (NumberFormatException e) {
      return otherwise;
    }
  }

  @Override
  public Integer call() throws IOException {
    if (config != null && !Files.isRegularFile(config)) {
      throw new UserError("no config file at " + config);
    }
    CurationSpec curation;
    try {
      curation =
          config == null
              ? CurationSpec.defaults()
              : CurationSpec.read(
                  config,
                  pathsRelativeTo != null
                      ? pathsRelativeTo.toAbsolutePath()
                      : config.toAbsolutePath().getParent());
    } catch (IllegalArgumentException e) {
      throw new UserError(e.getMessage());
    }
    String source = input != null ? input : curation.input();
    if (source == null) {
      throw new UserError("no input: give --input or 'input' in the config");
    }
    Path output = out != null ? out : curation.outputPath();
    if (output == null) {
      throw new UserError("no output directory: give --out or 'output.path' in the config");
    }
    if (shardCount < 1 || shardIndex < 0 || shardIndex >= shardCount) {
      throw new UserError(
          "--shard-index must be in [0, --shard-count), got " + shardIndex + " of " + shardCount);
    }
    String chosen = phase.toLowerCase(Locale.ROOT);
    if (!List.of("score", "select", "reshard", "all").contains(chosen)) {
      throw new UserError("--phase must be score, select, reshard or all, got '" + phase + "'");
    }
    for (CurationSpec.UidListFilter list : curation.uidLists()) {
      if (!Files.isRegularFile(list.path())) {
        throw new UserError("uid list '" + list.name() + "': no file at " + list.path());
      }
    }
    if (curation.mlmFilter() != null) {
      if (!Files.isRegularFile(curation.mlmFilter().model().resolve("config.json"))) {
        throw new UserError(
            "mlmFilter: no model directory (config.json) at " + curation.mlmFilter().model());
      }
      if (!Files.isRegularFile(curation.mlmFilter().tokenizer())) {
        throw new UserError("mlmFilter: no tokenizer at " + curation.mlmFilter().tokenizer());
      }
    }
    ComputeBackend compute;
    try {
      compute = ComputeBackend.parse(backend);
    } catch (IllegalArgumentException e) {
      throw new UserError(e.getMessage());
    }
    List<Path> shards = UserError.resolveShards(source, allowMissing);
    ProgressReporter progress = worker.progress("CurationJob");
    boolean scoring = chosen.equals("score") || chosen.equals("all");
    boolean models = curation.mlmFilter() != null || curation.clipScore() != null;
    Backend scorers = null;
    try {
      // Opened before any work, so a missing GPU stops the run at once with its reason.
      scorers = scoring && models ? compute.open(0) : null;
      Files.createDirectories(output);
      Curator curator =
          new Curator(
              shards, output, curation, worker.threads(), spec.commandLine().getErr(), progress);
      if (scorers != null) {
        curator.scorersOn(scorers);
      }
      if (scoring) {
        curator.score(shardIndex, shardCount);
      }
      if (chosen.equals("select") || chosen.equals("all")) {
        curator.select();
      }
      if (chosen.equals("reshard") || chosen.equals("all")) {
        curator.reshard(shardIndex, shardCount);
      }
      progress.phase("Succeeded", "curate " + chosen);
    } catch (IllegalArgumentException | IllegalStateException e) {
      progress.phase("Failed", e.getMessage());
      throw new UserError(e.getMessage());
    } finally {
      progress.close();
      if (scorers != null) {
        scorers.close();
      }
    }
    spec.commandLine()
        .getOut()
        .printf("curate: %s done; %s%n", chosen, output.resolve(Curator.STATS));
    spec.commandLine().getOut().flush();
    return 0;
  }
}
