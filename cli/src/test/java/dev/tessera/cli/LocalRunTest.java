package dev.tessera.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.api.v1alpha1.Phase;
import dev.tessera.model.text.QwenTokenizerFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quickstart's pipeline at a smaller scale, end to end through {@code tessera run}: synthetic
 * data, curation, packing and pre-training of the tiny model; then again (nothing reruns), and once
 * more killed with SIGKILL mid-training and run again (it finishes without redoing the finished
 * stages, with the same final model).
 */
class LocalRunTest {
  @TempDir static Path dir;
  static Path pipeline;
  static Path volume;
  static String firstRun;

  static final String PIPELINE =
      """
      apiVersion: tessera.dev/v1alpha1
      kind: CurationJob
      metadata:
        name: mini-curate
        annotations:
          tessera.dev/synthetic-data: "shards=2 samplesPerShard=60 seed=7 defects=0.1"
      spec:
        input: 'raw/{00000..00001}.tar'
        output: {path: curated, samplesPerShard: 50}
      ---
      apiVersion: tessera.dev/v1alpha1
      kind: PackJob
      metadata: {name: mini-pack}
      spec:
        input: {curationJob: mini-curate}
        output: packed
        tokenizer: tokenizer.json
        seqLength: 256
        imageTokens: 16
        imageSize: 64
        algorithm: fill
      ---
      apiVersion: tessera.dev/v1alpha1
      kind: PretrainRun
      metadata: {name: mini-pretrain}
      spec:
        input: {packJob: mini-pack}
        output: runs/mini
        model: {config: tiny}
        gpusPerNode: 0
        training: {steps: 8, globalBatch: 4, microBatch: 2, lr: 2.0e-3, warmup: 0.1}
        checkpoints: {every: 2, keepLast: 8}
        evaluation: {sequences: 2, every: 4}
      """;

  @BeforeAll
  static void runOnce() throws IOException {
    pipeline = dir.resolve("pipeline");
    Files.createDirectories(pipeline);
    Files.writeString(pipeline.resolve("pipeline.yaml"), PIPELINE);
    volume = dir.resolve("volume");
    firstRun = run(volume);
  }

  static String run(Path volume) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int code =
        TesseraMain.commandLine(new PrintStream(out, true, StandardCharsets.UTF_8))
            .execute(args(volume));
    String text = out.toString(StandardCharsets.UTF_8);
    assertThat(code).as(text).isZero();
    return text;
  }

  static String[] args(Path volume) {
    return new String[] {
      "run",
      pipeline.toString(),
      "--volume",
      volume.toString(),
      "--copy",
      "tokenizer.json=" + QwenTokenizerFiles.tokenizerJson()
    };
  }

  @Test
  void everyStageSucceedsWithSaneOutputs() throws IOException {
    LocalState state = LocalState.open(volume);
    assertThat(state.entries().keySet())
        .containsExactly(
            "CurationJob/mini-curate", "PackJob/mini-pack", "PretrainRun/mini-pretrain");
    state.entries().values().forEach(e -> assertThat(e.status().phase).isEqualTo(Phase.Succeeded));

    JsonNode curated = LocalState.JSON.readTree(volume.resolve("curated/stats.json").toFile());
    assertThat(curated.path("samples").asLong()).isEqualTo(120);
    assertThat(curated.path("kept").asLong()).isBetween(90L, 119L);
    assertThat(curated.path("rejections").size()).isPositive();
    var curation = state.get("CurationJob/mini-curate").status();
    assertThat(curation.progress.kept).isEqualTo(curated.path("kept").asLong());
    assertThat(curation.output.path).isEqualTo("curated/shards");

    JsonNode packed = LocalState.JSON.readTree(volume.resolve("packed/stats.json").toFile());
    assertThat(packed.path("samples").asLong()).isEqualTo(curated.path("kept").asLong());
    assertThat(packed.path("fill_ratio").asDouble()).isGreaterThan(0.9);
    assertThat(packed.path("sequences").asLong())
        .isGreaterThanOrEqualTo(packed.path("lower_bound_sequences").asLong());
    assertThat(state.get("PackJob/mini-pack").status().progress.fillRatio)
        .isEqualTo(packed.path("fill_ratio").asDouble());

    List<String> metrics = Files.readAllLines(volume.resolve("runs/mini/metrics.jsonl"));
    assertThat(metrics).hasSize(8);
    double first = LocalState.JSON.readTree(metrics.get(0)).path("loss").asDouble();
    double last = LocalState.JSON.readTree(metrics.get(7)).path("loss").asDouble();
    assertThat(last).as("the loss fell").isLessThan(first - 0.5);
    var training = state.get("PretrainRun/mini-pretrain").status();
    assertThat(training.progress.step).isEqualTo(8);
    assertThat(training.latestCheckpoint.step).isEqualTo(8);
    assertThat(training.checkpoints).hasSizeGreaterThanOrEqualTo(2);

    String report = Files.readString(volume.resolve("report.html"));
    assertThat(report)
        .contains("CurationJob mini-curate", "PackJob mini-pack", "PretrainRun mini-pretrain")
        .contains("Rejected by filter", "fill ratio", "training loss", "<svg")
        .contains("Loss on held-out sequences: ", "at step 4 → <b>", "held-out loss")
        .contains(
            "Captions for held-out synthetic images", "<b>model:</b>", "data:image/jpeg;base64,");
  }

  @Test
  void aSecondRunRedoesNothing() throws IOException {
    Path log = volume.resolve(".tessera/logs/PretrainRun-mini-pretrain.log");
    long before = Files.size(log);
    String again = run(volume);
    assertThat(again.lines().filter(l -> l.contains("already succeeded")).count()).isEqualTo(3);
    assertThat(Files.size(log)).as("the trainer did not run again").isEqualTo(before);
  }

  @Test
  void aStageWhoseOutputWasDeletedRunsAgainAndTheOthersDoNot() throws Exception {
    Path copy = dir.resolve("output-deleted");
    try (var files = Files.walk(volume)) {
      for (Path file : files.toList()) {
        Path target = copy.resolve(volume.relativize(file).toString());
        if (Files.isDirectory(file)) {
          Files.createDirectories(target);
        } else {
          Files.copy(file, target);
        }
      }
    }
    String model = "runs/mini/checkpoints/step-00000008/model.safetensors";
    try (var files = Files.walk(copy.resolve("runs/mini"))) {
      for (Path file : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(file);
      }
    }

    String again = run(copy);
    assertThat(again).contains("CurationJob  mini-curate          already succeeded");
    assertThat(again).contains("PackJob      mini-pack            already succeeded");
    assertThat(again)
        .contains("PretrainRun  mini-pretrain        succeeded before, but its output runs/mini")
        .contains("PretrainRun  mini-pretrain        succeeded in");
    assertThat(
            LocalState.open(copy).get("PretrainRun/mini-pretrain").status().latestCheckpoint.step)
        .isEqualTo(8);
    assertThat(sha256(copy.resolve(model)))
        .as("the same model as the first run")
        .isEqualTo(sha256(volume.resolve(model)));
  }

  @Test
  void logsShowTheWorkersOutput() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int code =
        TesseraMain.commandLine(new PrintStream(out, true, StandardCharsets.UTF_8))
            .execute("logs", "mini-pretrain", "--volume", volume.toString(), "--tail", "1");
    assertThat(code).isZero();
    assertThat(out.toString(StandardCharsets.UTF_8).strip())
        .startsWith("pretrain: 8 steps, loss ")
        .doesNotContain("\n");

    ByteArrayOutputStream whole = new ByteArrayOutputStream();
    TesseraMain.commandLine(new PrintStream(whole, true, StandardCharsets.UTF_8))
        .execute("logs", "mini-pretrain", "--volume", volume.toString());
    // The spec's evaluation reached the trainer: two held-out sequences, measured every 4 steps.
    assertThat(whole.toString(StandardCharsets.UTF_8))
        .contains("eval at step 4: held-out loss ", "eval at step 8: held-out loss ")
        .contains("over 2 sequences");
  }

  /**
   * {@code tessera generate} asks the run's newest checkpoint with the tokenizer it was trained
   * with: the same text as {@code tessera-trainer generate} given them by hand.
   */
  @Test
  void generateAsksTheTrainedModelAboutAnImage() throws IOException {
    Path picture = dir.resolve("picture.png");
    java.awt.image.BufferedImage image =
        new java.awt.image.BufferedImage(48, 40, java.awt.image.BufferedImage.TYPE_INT_RGB);
    java.awt.Graphics2D g = image.createGraphics();
    g.setColor(java.awt.Color.BLUE);
    g.fillOval(8, 8, 24, 20);
    g.dispose();
    javax.imageio.ImageIO.write(image, "png", picture.toFile());

    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int code =
        TesseraMain.commandLine(new PrintStream(out, true, StandardCharsets.UTF_8))
            .execute(
                "generate",
                "mini-pretrain",
                "--volume",
                volume.toString(),
                "--image",
                picture.toString(),
                "--max-tokens",
                "6");
    String asked = out.toString(StandardCharsets.UTF_8);
    assertThat(code).as(asked).isZero();
    assertThat(asked).contains("step-00000008").contains("generate: ");

    java.io.StringWriter direct = new java.io.StringWriter();
    int directCode =
        dev.tessera.trainer.TrainerMain.commandLine()
            .setOut(new java.io.PrintWriter(direct, true))
            .setErr(new java.io.PrintWriter(new java.io.StringWriter(), true))
            .execute(
                "generate",
                "--model",
                volume.resolve("runs/mini").toString(),
                "--tokenizer",
                volume.resolve("tokenizer.json").toString(),
                "--image",
                picture.toString(),
                "--max-tokens",
                "6");
    assertThat(directCode).isZero();
    assertThat(asked.lines().findFirst().orElseThrow()).isEqualTo(direct.toString().strip());

    ByteArrayOutputStream notARun = new ByteArrayOutputStream();
    int refused =
        TesseraMain.commandLine(new PrintStream(notARun, true, StandardCharsets.UTF_8))
            .execute("generate", "mini-pack", "--volume", volume.toString());
    assertThat(refused).isEqualTo(TesseraMain.PIPELINE_ERROR);
  }

  @Test
  void statusShowsWhatRan() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int code =
        TesseraMain.commandLine(new PrintStream(out, true, StandardCharsets.UTF_8))
            .execute("status", "--volume", volume.toString(), "mini-pretrain");
    String text = out.toString(StandardCharsets.UTF_8);
    assertThat(code).isZero();
    assertThat(text)
        .contains(
            "PretrainRun",
            "mini-pretrain",
            "Succeeded",
            "100%",
            "Complete",
            "latest checkpoint: step 8")
        .containsPattern("loss \\d+\\.\\d{3} held-out \\d+\\.\\d{3}");
  }

  @Test
  void interruptedThenKilledMidTrainingItFinishesWithTheSameModel() throws Exception {
    Path volume2 = dir.resolve("interrupted");
    // Ctrl-C (SIGINT) after the second checkpoint: the state says so.
    Process first = child(volume2, "first.out");
    awaitCheckpoint(first, volume2, 2, "first.out");
    new ProcessBuilder("kill", "-INT", String.valueOf(first.pid())).start().waitFor();
    assertThat(first.waitFor(60, TimeUnit.SECONDS)).isTrue();
    var afterInterrupt = LocalState.open(volume2).get("PretrainRun/mini-pretrain").status();
    assertThat(afterInterrupt.phase).isEqualTo(Phase.Pending);
    assertThat(afterInterrupt.condition("Running").getReason()).isEqualTo(LocalRunner.INTERRUPTED);

    // Run again, then SIGKILL after the sixth: no shutdown hook runs, the state stays Running.
    Process second = child(volume2, "second.out");
    awaitCheckpoint(second, volume2, 6, "second.out");
    second.destroyForcibly().waitFor();
    assertThat(Files.readString(dir.resolve("second.out"))).contains("was interrupted: continuing");
    assertThat(LocalState.open(volume2).get("PretrainRun/mini-pretrain").status().phase)
        .isEqualTo(Phase.Running);

    String resumed = run(volume2);
    assertThat(resumed).contains("CurationJob  mini-curate          already succeeded");
    assertThat(resumed).contains("PackJob      mini-pack            already succeeded");
    assertThat(resumed).contains("was interrupted: continuing");
    String log = Files.readString(volume2.resolve(".tessera/logs/PretrainRun-mini-pretrain.log"));
    assertThat(log.split("resuming from step-", -1)).as("resumed twice").hasSize(3);
    assertThat(log).contains("resuming from step-00000006");
    assertThat(sha256(volume2.resolve("runs/mini/checkpoints/step-00000008/model.safetensors")))
        .as("the same final model as the uninterrupted run")
        .isEqualTo(sha256(volume.resolve("runs/mini/checkpoints/step-00000008/model.safetensors")));
  }

  private static Process child(Path volume, String output) throws IOException {
    List<String> command =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules",
                "jdk.incubator.vector",
                "-cp",
                System.getProperty("java.class.path"),
                TesseraMain.class.getName()));
    command.addAll(List.of(args(volume)));
    return new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve(output).toFile())
        .start();
  }

  private static void awaitCheckpoint(Process child, Path volume, int step, String output)
      throws Exception {
    Path checkpoint =
        volume.resolve(String.format("runs/mini/checkpoints/step-%08d/manifest.json", step));
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
    while (!Files.exists(checkpoint) && child.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertThat(Files.exists(checkpoint)).as(Files.readString(dir.resolve(output))).isTrue();
  }

  static String sha256(Path file) throws Exception {
    return HexFormat.of()
        .formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
  }
}
