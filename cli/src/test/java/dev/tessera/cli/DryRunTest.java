package dev.tessera.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.v1alpha1.OutputRecord;
import dev.tessera.api.v1alpha1.Phase;
import dev.tessera.api.v1alpha1.TesseraStatus;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tessera run --dry-run}: what would run, from where, and what could not start. */
class DryRunTest {
  @TempDir Path dir;

  static final String PIPELINE =
      """
      apiVersion: tessera.dev/v1alpha1
      kind: CurationJob
      metadata: {name: cur}
      spec:
        input: raw/{00000..00001}.tar
        output: {path: curated}
      ---
      apiVersion: tessera.dev/v1alpha1
      kind: PackJob
      metadata: {name: pack}
      spec:
        inputs: [{curationJob: cur}, {path: extra/shards, repeat: 0.5}]
        output: packed
        tokenizer: tokenizer.json
      ---
      apiVersion: tessera.dev/v1alpha1
      kind: PretrainRun
      metadata: {name: pt}
      spec:
        input: {packJob: pack}
        model: {config: tiny}
        output: runs/pt
        gpusPerNode: 0
        training: {steps: 4}
      """;

  private record Outcome(int code, String out, String err) {}

  private Outcome dryRun(Path volume, String yaml, String... extra) throws IOException {
    Path file = dir.resolve("pipeline.yaml");
    Files.writeString(file, yaml);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    StringWriter err = new StringWriter();
    var cli = TesseraMain.commandLine(new PrintStream(out, true, StandardCharsets.UTF_8));
    cli.setErr(new PrintWriter(err, true));
    List<String> args =
        new ArrayList<>(
            List.of("run", file.toString(), "--volume", volume.toString(), "--dry-run"));
    args.addAll(List.of(extra));
    int code = cli.execute(args.toArray(String[]::new));
    return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString());
  }

  private static List<Path> filesUnder(Path root) throws IOException {
    try (Stream<Path> paths = Files.walk(root)) {
      return paths.sorted().toList();
    }
  }

  @Test
  void everyStageThatCouldNotStartIsNamedAndNothingIsWritten() throws IOException {
    Path volume = dir.resolve("volume");

    Outcome outcome = dryRun(volume, PIPELINE);

    assertThat(outcome.code()).isEqualTo(TesseraMain.PIPELINE_ERROR);
    assertThat(outcome.out())
        .contains("✗ CurationJob  cur")
        .contains("spec.input: raw/{00000..00001}.tar is not on the volume")
        .contains("✗ PackJob      pack")
        .contains("spec.inputs[0].curationJob: CurationJob cur could not start")
        .contains("spec.inputs[1].path: extra/shards is not on the volume")
        .contains("spec.tokenizer: tokenizer.json is not on the volume")
        .contains("spec.input.packJob: PackJob pack could not start")
        .contains("3 of 3 stages could not start");
    assertThat(volume).doesNotExist();
  }

  @Test
  void stagesThatWouldRunShowTheirInputsSourcesAndWorkerCommands() throws IOException {
    Path volume = dir.resolve("volume");
    Files.createDirectories(volume.resolve("raw"));
    Files.createDirectories(volume.resolve("extra/shards"));
    for (String shard : List.of("raw/00000.tar", "raw/00001.tar", "extra/shards/00000.tar")) {
      Files.write(volume.resolve(shard), new byte[1024]);
    }
    Path tokenizer = Files.writeString(dir.resolve("tokenizer.json"), "{}");
    List<Path> before = filesUnder(volume);

    Outcome outcome = dryRun(volume, PIPELINE, "--copy", "tokenizer.json=" + tokenizer);

    assertThat(outcome.code()).as(outcome.out() + outcome.err()).isZero();
    String v = volume.toAbsolutePath().normalize().toString();
    assertThat(outcome.out())
        .contains("• CurationJob  cur                  would run")
        .contains("tessera-curator curate --config " + v + "/.tessera/specs/cur.curation.yaml")
        .contains("--input " + v + "/raw/{00000..00001}.tar --out " + v + "/curated")
        .contains("input  curated/shards (CurationJob cur)")
        .contains("file   tokenizer.json (copied there by --copy)")
        .contains(
            "tessera-curator pack --input "
                + v
                + "/curated/shards --input "
                + v
                + "/extra/shards --repeat 0.5 --out "
                + v
                + "/packed --tokenizer "
                + v
                + "/tokenizer.json")
        .contains("input  packed (PackJob pack)")
        .contains("tessera-trainer pretrain --data " + v + "/packed --model-config tiny")
        .doesNotContain("could not start");
    assertThat(filesUnder(volume)).as("nothing written").isEqualTo(before);
  }

  @Test
  void aStageThatSucceededIsShownAsDoneUnlessItsSpecChanged() throws IOException {
    Path volume = dir.resolve("volume");
    Files.createDirectories(volume.resolve("curated/shards"));
    Files.createDirectories(volume.resolve("extra/shards"));
    Files.write(volume.resolve("extra/shards/00000.tar"), new byte[1024]);
    Files.writeString(volume.resolve("tokenizer.json"), "{}");
    Path file = Files.writeString(dir.resolve("pipeline.yaml"), PIPELINE);
    Stage curation =
        Pipeline.load(file, new PrintStream(new ByteArrayOutputStream())).stages().get(0);
    TesseraStatus done = new TesseraStatus();
    done.phase = Phase.Succeeded;
    done.output = new OutputRecord();
    done.output.path = "curated/shards";
    LocalState.open(volume).put(curation.id(), LocalRunner.specTree(curation), done);

    Outcome outcome = dryRun(volume, PIPELINE);

    assertThat(outcome.code()).as(outcome.out()).isZero();
    assertThat(outcome.out())
        .contains("✓ CurationJob  cur                  already succeeded: curated/shards")
        .contains("input  curated/shards (CurationJob cur)")
        .contains("• PackJob      pack                 would run");

    Outcome changed =
        dryRun(
            volume,
            PIPELINE.replace(
                "output: {path: curated}", "output: {path: curated}\n  parallelism: 2"));
    assertThat(changed.code()).isEqualTo(TesseraMain.PIPELINE_ERROR);
    assertThat(changed.out())
        .contains("✗ CurationJob  cur                  spec changed since the stage succeeded");

    Outcome fresh = dryRun(volume, PIPELINE, "--fresh");
    assertThat(fresh.out()).contains("✗ CurationJob  cur").contains("raw/{00000..00001}.tar");
  }

  @Test
  void aStageAskingForGpusThisMachineLacksCouldNotStart() throws IOException {
    Path volume = dir.resolve("volume");
    Files.createDirectories(volume.resolve("packed"));
    String yaml =
        """
        apiVersion: tessera.dev/v1alpha1
        kind: PretrainRun
        metadata: {name: pt}
        spec:
          input: {path: packed}
          output: runs/pt
          training: {steps: 4}
        """;
    Pipeline pipeline =
        Pipeline.load(
            Files.writeString(dir.resolve("gpu.yaml"), yaml),
            new PrintStream(new ByteArrayOutputStream()));
    ByteArrayOutputStream none = new ByteArrayOutputStream();
    int code =
        new DryRun(
                volume,
                LocalState.open(volume),
                Set.of(),
                Set.of(),
                () -> 0,
                new PrintStream(none, true, StandardCharsets.UTF_8))
            .print(pipeline);
    assertThat(code).isEqualTo(TesseraMain.PIPELINE_ERROR);
    assertThat(none.toString(StandardCharsets.UTF_8))
        .contains(
            "spec.gpusPerNode: 8 GPUs per node (the default), but CUDA sees no GPU on this machine"
                + " (gpusPerNode: 0 trains on the CPU)");

    ByteArrayOutputStream some = new ByteArrayOutputStream();
    code =
        new DryRun(
                volume,
                LocalState.open(volume),
                Set.of(),
                Set.of(),
                () -> 1,
                new PrintStream(some, true, StandardCharsets.UTF_8))
            .print(pipeline);
    assertThat(code).as(some.toString(StandardCharsets.UTF_8)).isZero();
    assertThat(some.toString(StandardCharsets.UTF_8)).contains("--ranks 8 --backend cuda");

    // A run says so before any stage starts.
    ByteArrayOutputStream warned = new ByteArrayOutputStream();
    new LocalRunner(volume, new PrintStream(warned, true, StandardCharsets.UTF_8), false)
        .warnAboutGpus(pipeline, () -> 0);
    assertThat(warned.toString(StandardCharsets.UTF_8))
        .contains(
            "! PretrainRun  pt                   will fail when it starts: spec.gpusPerNode: 8");
  }
}
