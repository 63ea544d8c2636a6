package dev.tessera.trainer.pretrain;

import static dev.tessera.trainer.TrainerCli.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.io.AtomicFiles;
import dev.tessera.data.manifest.ShardManifest;
import dev.tessera.data.packed.PackedLayout;
import dev.tessera.data.packed.PackedSequence;
import dev.tessera.data.packed.PackedShardWriter;
import dev.tessera.data.packed.PackedShards;
import dev.tessera.data.packing.BinPacker;
import dev.tessera.data.packing.Packing;
import dev.tessera.data.packing.PackingAlgorithm;
import dev.tessera.data.progress.ProgressReporter;
import dev.tessera.data.synth.SynthGenerator;
import dev.tessera.data.synth.SynthOptions;
import dev.tessera.data.synth.SynthProgress;
import dev.tessera.data.testing.ChildJvm;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.ShardList;
import dev.tessera.data.webdataset.WebDatasetReader;
import dev.tessera.engine.DType;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.dist.PeerLostException;
import dev.tessera.model.Parameters;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.io.SafetensorsDirectory;
import dev.tessera.model.io.SafetensorsFile;
import dev.tessera.model.io.SafetensorsWriter;
import dev.tessera.model.qwen2.Qwen2Decoder;
import dev.tessera.model.siglip.SiglipVisionTower;
import dev.tessera.model.vlm.VisionLanguageModel;
import dev.tessera.trainer.TrainerCli.Outcome;
import dev.tessera.trainer.TrainerMain;
import dev.tessera.trainer.pretrain.Pretrainer.Summary;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Pre-training end to end on a small packed set of synthetic image-caption samples, with a word
 * vocabulary so that the tiny model trains in seconds.
 */
class PretrainTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int BOS = 0;
  private static final int EOS = 1;
  private static final int PAD = 2;
  private static final int NEWLINE = 3;

  @TempDir static Path shared;
  static Path packed;

  @TempDir Path tmp;

  /** 96 synthetic samples packed into 128-token sequences with 4 image tokens each. */
  @BeforeAll
  static void packSyntheticData() throws IOException {
    Path raw = shared.resolve("raw");
    SynthGenerator.generate(new SynthOptions(raw, 1, 96, 5, 0.0, 2), SynthProgress.NONE);
    Map<String, Integer> vocabulary = new LinkedHashMap<>();
    for (String special : List.of("<s>", "<|im_end|>", "<pad>", "\n")) {
      vocabulary.put(special, vocabulary.size());
    }
    List<PackedSequence.Part> parts = new ArrayList<>();
    try (WebDatasetReader reader = WebDatasetReader.open(ShardList.resolve(raw, "."))) {
      while (reader.hasNext()) {
        Sample sample = reader.next();
        List<Integer> ids = new ArrayList<>(List.of(BOS, PackedLayout.IMAGE_TOKEN_ID, NEWLINE));
        for (String word :
            sample.caption().orElseThrow().toLowerCase(Locale.ROOT).split("[^a-z]+")) {
          if (!word.isEmpty()) {
            ids.add(vocabulary.computeIfAbsent(word, w -> vocabulary.size()));
          }
        }
        ids.add(EOS);
        parts.add(
            new PackedSequence.Part(
                null,
                sample.key(),
                ids.stream().mapToInt(Integer::intValue).toArray(),
                false,
                sample.imageExtension().orElseThrow(),
                ByteBuffer.wrap(sample.image().orElseThrow())));
      }
    }
    PackedLayout layout =
        new PackedLayout(
            128, 4, PackedLayout.IMAGE_TOKEN_ID, PAD, 0, "caption", "words", vocabulary.size());
    int[] lengths = parts.stream().mapToInt(p -> p.multimodalLength(4)).toArray();
    Packing packing = BinPacker.pack(lengths, 128, PackingAlgorithm.FIRST_FIT_DECREASING);
    packed = shared.resolve("packed");
    writePacked(packed, parts, packing, layout, -1);
    damaged = shared.resolve("damaged");
    writePacked(damaged, parts, packing, layout, DAMAGED_SEQUENCE);
  }

  /** The set with its one damaged sequence, whose first image is not an image. */
  static Path damaged;

  static final int DAMAGED_SEQUENCE = 3;

  private static void writePacked(
      Path dir, List<PackedSequence.Part> parts, Packing packing, PackedLayout layout, int damage)
      throws IOException {
    try (PackedShardWriter writer = new PackedShardWriter(dir, 0)) {
      for (int bin = 0; bin < packing.binCount(); bin++) {
        List<PackedSequence.Part> members = new ArrayList<>();
        for (int sample : packing.members(bin)) {
          PackedSequence.Part part = parts.get(sample);
          if (bin == damage && members.isEmpty()) {
            part =
                new PackedSequence.Part(
                    part.uid(),
                    part.key(),
                    part.ids(),
                    part.truncated(),
                    part.imageExtension(),
                    ByteBuffer.wrap(
                        "not an image".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
          }
          members.add(part);
        }
        writer.write(PackedSequence.build(bin, layout, members));
      }
      ShardManifest.of(
              ShardManifest.KIND_PACKED,
              layout.toMap(),
              Map.of("command", "test"),
              List.of(writer.finish()))
          .write(dir);
    }
  }

  /**
   * With --keep-best the checkpoint with the lowest held-out loss survives --keep-last, is named in
   * the trainer state and in the progress report, and a resumed run keeps protecting it. A high
   * learning rate makes the held-out loss rise after its first fall, so the best is not the newest.
   */
  @Test
  void keepBestKeepsTheCheckpointWithTheLowestHeldOutLoss() throws IOException {
    Path out = tmp.resolve("best");
    Path progress = tmp.resolve("best-progress.json");
    List<String> args =
        args(
            out,
            6,
            "--keep-best",
            "--eval-sequences",
            "4",
            "--eval-every",
            "100",
            "--progress-file",
            progress.toString());
    args.set(args.indexOf("--lr") + 1, "0.3");
    args.set(args.indexOf("--checkpoint-every") + 1, "1");
    args.set(args.indexOf("--keep-last") + 1, "1");
    Outcome outcome = run(args.toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();

    // Measured at every checkpoint, though --eval-every asks for the last step only.
    List<String> lines = Files.readAllLines(out.resolve(Pretrainer.METRICS_FILE));
    long bestStep = 0;
    double bestLoss = Double.POSITIVE_INFINITY;
    for (int step = 1; step <= 6; step++) {
      double evalLoss = JSON.readTree(lines.get(step - 1)).path("eval_loss").asDouble(Double.NaN);
      assertThat(Double.isFinite(evalLoss)).as("step %d", step).isTrue();
      if (evalLoss < bestLoss) {
        bestLoss = evalLoss;
        bestStep = step;
      }
    }
    assertThat(bestStep)
        .as("this seed's best held-out loss is not at the last step")
        .isLessThan(6L);

    Checkpoints checkpoints = new Checkpoints(out);
    assertThat(checkpoints.list())
        .containsExactly(checkpoints.stepDir(bestStep), checkpoints.stepDir(6));
    JsonNode state = JSON.readTree(checkpoints.stepDir(6).resolve(Pretrainer.STATE).toFile());
    assertThat(state.path("bestStep").asLong()).isEqualTo(bestStep);
    assertThat(state.path("bestEvalLoss").asDouble()).isEqualTo(bestLoss);
    JsonNode reported = JSON.readTree(progress.toFile()).path("checkpoints");
    assertThat(reported).isNotEmpty();
    for (JsonNode checkpoint : reported) {
      assertThat(checkpoint.path("evalLoss").isNumber()).isTrue();
      assertThat(checkpoint.path("best").asBoolean())
          .as("checkpoint %s", checkpoint)
          .isEqualTo(checkpoint.path("step").asLong() == bestStep);
    }

    // Resumed from the step before the last, the run still keeps the best one.
    AtomicFiles.deleteRecursively(checkpoints.stepDir(6));
    Outcome resumed = run(args.toArray(String[]::new));
    assertThat(resumed.exitCode()).as(resumed.err()).isZero();
    assertThat(checkpoints.list())
        .containsExactly(checkpoints.stepDir(bestStep), checkpoints.stepDir(6));

    // Resumed without --keep-best, the run prunes as --keep-last says, the old best included.
    AtomicFiles.deleteRecursively(checkpoints.stepDir(6));
    List<String> withoutBest = new ArrayList<>(args);
    withoutBest.remove("--keep-best");
    Outcome plain = run(withoutBest.toArray(String[]::new));
    assertThat(plain.exitCode()).as(plain.err()).isZero();
    assertThat(checkpoints.list()).containsExactly(checkpoints.stepDir(6));

    // Without held-out sequences there is nothing to rank checkpoints by.
    Outcome refused =
        run(args(tmp.resolve("best-refused"), 2, "--keep-best").toArray(String[]::new));
    assertThat(refused.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(refused.err()).contains("--keep-best").contains("--eval-sequences");
  }

  /**
   * {@code evaluate} measures each checkpoint of a run on the sequences it held out as the run did:
   * the loss of every checkpoint equals the run's eval_loss at its step.
   */
  @Test
  void evaluateGivesEachCheckpointTheRunsOwnHeldOutLoss() throws IOException {
    Path out = tmp.resolve("evaluated");
    List<String> args = args(out, 6, "--eval-sequences", "4", "--eval-every", "2");
    args.set(args.indexOf("--checkpoint-every") + 1, "2");
    args.set(args.indexOf("--keep-last") + 1, "10");
    Outcome trained = run(args.toArray(String[]::new));
    assertThat(trained.exitCode()).as(trained.err()).isZero();
    List<String> metrics = Files.readAllLines(out.resolve(Pretrainer.METRICS_FILE));

    Outcome measured =
        run(
            "evaluate",
            "--model",
            out.toString(),
            "--data",
            packed.toString(),
            "--held-out",
            "4",
            "--all",
            "--json");
    assertThat(measured.exitCode()).as(measured.err()).isZero();
    List<String> lines = measured.out().lines().toList();
    assertThat(lines).hasSize(3);
    for (int i = 0; i < 3; i++) {
      JsonNode line = JSON.readTree(lines.get(i));
      int step = 2 * (i + 1);
      assertThat(line.path("checkpoint").asText())
          .isEqualTo(new Checkpoints(out).stepDir(step).toString());
      assertThat(line.path("sequences").asInt()).isEqualTo(4);
      assertThat(line.path("loss").asDouble())
          .as("step %d", step)
          .isEqualTo(JSON.readTree(metrics.get(step - 1)).path("eval_loss").asDouble());
    }

    // The whole set, one checkpoint, as text: another figure, on every sequence.
    Outcome whole =
        run(
            "evaluate",
            "--model",
            new Checkpoints(out).stepDir(4).toString(),
            "--data",
            packed.toString());
    assertThat(whole.exitCode()).as(whole.err()).isZero();
    assertThat(whole.out()).contains("step-00000004  loss ").contains(" sequences, ");

    Outcome refused =
        run("evaluate", "--model", tmp.toString(), "--data", packed.toString(), "--all");
    assertThat(refused.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(refused.err()).contains("is neither a model directory");
  }

  /**
   * A sequence whose image cannot be decoded is passed over, named in the log and counted in the
   * metrics, progress and checkpoints, up to --max-damaged-sequences over the whole run; past that
   * the run stops, naming it.
   */
  @Test
  void damagedSequencesArePassedOverUpToTheLimit() throws IOException {
    Path out = tmp.resolve("damaged");
    Path progress = tmp.resolve("damaged-progress.json");
    List<String> args = args(out, 12, "--progress-file", progress.toString());
    args.set(args.indexOf("--data") + 1, damaged.toString());
    args.set(args.indexOf("--checkpoint-every") + 1, "1");
    args.set(args.indexOf("--keep-last") + 1, "100");
    Outcome outcome = run(args.toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    assertThat(outcome.err())
        .contains(
            "warning: rank 0 passes over a damaged sequence: packed sequence "
                + DAMAGED_SEQUENCE
                + " (stream position ")
        .contains("cannot be decoded");

    // Counted on the steps that met it (once an epoch), and from there on in the run's total.
    Map<Long, Integer> perStep = damagedPerStep(outcome.err());
    long stepBefore = perStep.keySet().iterator().next() - 1;
    List<String> lines = Files.readAllLines(out.resolve(Pretrainer.METRICS_FILE));
    long total = 0;
    for (int step = 1; step <= 12; step++) {
      JsonNode line = JSON.readTree(lines.get(step - 1));
      assertThat(line.path("damaged_sequences").asInt())
          .as("step %d: %s", step, line)
          .isEqualTo(perStep.getOrDefault((long) step, 0));
      total += perStep.getOrDefault((long) step, 0);
      JsonNode state =
          JSON.readTree(new Checkpoints(out).stepDir(step).resolve(Pretrainer.STATE).toFile());
      assertThat(state.path("damagedSequences").asLong()).isEqualTo(total);
    }
    JsonNode report = JSON.readTree(progress.toFile());
    assertThat(report.path("progress").path("damagedSequences").asLong()).isEqualTo(total);
    assertThat(report.path("progress").path("skippedSteps").asLong()).isZero();

    // Resumed from the step before the one that met it, the run passes over it again and ends
    // with the same weights: the damage does not make training irreproducible.
    byte[] weights = finalWeights(out, 12);
    Checkpoints checkpoints = new Checkpoints(out);
    for (Path step : checkpoints.list()) {
      if (Long.parseLong(step.getFileName().toString().substring(5)) > stepBefore) {
        AtomicFiles.deleteRecursively(step);
      }
    }
    Outcome resumed = run(args.toArray(String[]::new));
    assertThat(resumed.exitCode()).as(resumed.err()).isZero();
    assertThat(resumed.err()).contains("passes over a damaged sequence");
    assertThat(finalWeights(out, 12)).isEqualTo(weights);

    // The limit is the run's: resumed after the damaged step with a limit of 0, the run counts
    // the sequence passed over before and stops at its first step.
    for (Path step : checkpoints.list()) {
      if (Long.parseLong(step.getFileName().toString().substring(5)) > stepBefore + 1) {
        AtomicFiles.deleteRecursively(step);
      }
    }
    List<String> lowered = new ArrayList<>(args);
    lowered.addAll(List.of("--max-damaged-sequences", "0"));
    Outcome stopped = run(lowered.toArray(String[]::new));
    assertThat(stopped.exitCode()).isEqualTo(TrainerMain.IO_ERROR);
    assertThat(stopped.err())
        .contains("1 damaged packed sequences passed over in this run, more than")
        .contains("rank 0 passed over none of them");
    assertThat(new Checkpoints(out).latestValid(new PrintWriter(new StringWriter())).orElseThrow())
        .isEqualTo(checkpoints.stepDir(stepBefore + 1));

    List<String> strict = args(tmp.resolve("strict"), 12, "--max-damaged-sequences", "0");
    strict.set(strict.indexOf("--data") + 1, damaged.toString());
    Outcome refused = run(strict.toArray(String[]::new));
    assertThat(refused.exitCode()).isEqualTo(TrainerMain.IO_ERROR);
    assertThat(refused.err())
        .contains(
            "1 damaged packed sequences passed over in this run, more than"
                + " --max-damaged-sequences 0 (check the set with `tessera-curator inspect "
                + damaged
                + " --decode-images`)")
        .contains("the last on rank 0: a damaged sequence: packed sequence " + DAMAGED_SEQUENCE);
  }

  /**
   * A damaged sequence among the held-out ones is left out of every measurement, named once, and
   * the run goes on: before, it failed the run at each evaluation, on every attempt.
   */
  @Test
  void aDamagedHeldOutSequenceIsLeftOutOfTheMeasurement() throws IOException {
    long count;
    try (dev.tessera.data.packed.PackedShards shards =
        dev.tessera.data.packed.PackedShards.open(damaged)) {
      count = shards.sequenceCount();
    }
    int held = 1;
    while (java.util.Arrays.stream(dev.tessera.data.packed.HeldOut.split(count, held).evaluation())
        .noneMatch(s -> s == DAMAGED_SEQUENCE)) {
      held++;
    }
    Path out = tmp.resolve("held-damaged");
    List<String> args = args(out, 6, "--eval-sequences", String.valueOf(held), "--eval-every", "2");
    args.set(args.indexOf("--data") + 1, damaged.toString());
    Outcome outcome = run(args.toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    String warning =
        "leaves damaged held-out sequence " + DAMAGED_SEQUENCE + " out of the held-out";
    assertThat(outcome.err().split(java.util.regex.Pattern.quote(warning), -1)).hasSize(2);
    List<String> lines = Files.readAllLines(out.resolve(Pretrainer.METRICS_FILE));
    for (int step : new int[] {2, 4, 6}) {
      JsonNode line = JSON.readTree(lines.get(step - 1));
      assertThat(line.path("eval_loss").isNumber()).as("step %d: %s", step, line).isTrue();
      assertThat(Double.isFinite(line.path("eval_loss").asDouble())).isTrue();
    }
  }

  /**
   * Over two ranks the limit counts what both passed over: all stop at the same step, and the
   * failure reported names the sequence, whichever rank met it.
   */
  @Test
  void theDamageLimitCountsEveryRank() throws IOException {
    List<String> strict =
        args(tmp.resolve("two"), 12, "--ranks", "2", "--max-damaged-sequences", "0");
    strict.set(strict.indexOf("--data") + 1, damaged.toString());
    Outcome refused = run(strict.toArray(String[]::new));
    assertThat(refused.exitCode()).as(refused.err()).isEqualTo(TrainerMain.IO_ERROR);
    assertThat(refused.err())
        .contains("1 damaged packed sequences passed over in this run")
        .contains(": a damaged sequence: packed sequence " + DAMAGED_SEQUENCE)
        .doesNotContain("passed over none of them");

    List<String> lenient = args(tmp.resolve("two-lenient"), 12, "--ranks", "2");
    lenient.set(lenient.indexOf("--data") + 1, damaged.toString());
    Outcome passed = run(lenient.toArray(String[]::new));
    assertThat(passed.exitCode()).as(passed.err()).isZero();
    Map<Long, Integer> perStep = damagedPerStep(passed.err());
    assertThat(perStep).isNotEmpty();
    List<String> lines =
        Files.readAllLines(tmp.resolve("two-lenient").resolve(Pretrainer.METRICS_FILE));
    for (int step = 1; step <= 12; step++) {
      assertThat(JSON.readTree(lines.get(step - 1)).path("damaged_sequences").asInt())
          .as("step %d", step)
          .isEqualTo(perStep.getOrDefault((long) step, 0));
    }
  }

  /**
   * The damaged sequences each step passed over, from the log's warnings: the global batch is 4, so
   * stream position p is in step p / 4 + 1.
   */
  private static Map<Long, Integer> damagedPerStep(String log) {
    Map<Long, Integer> perStep = new java.util.TreeMap<>();
    java.util.regex.Matcher warning =
        java.util.regex.Pattern.compile(
                "passes over a damaged sequence: .*\\(stream position (\\d+)\\)")
            .matcher(log);
    while (warning.find()) {
      perStep.merge(Long.parseLong(warning.group(1)) / 4 + 1, 1, Integer::sum);
    }
    return perStep;
  }

  @Test
  void aCheckpointWrittenBeforeTheDamageCountReadsAsNone() throws IOException {
    Pretrainer.TrainerState state =
        JSON.readValue(
            "{\"step\":3,\"dataPosition\":12,\"badSteps\":1}", Pretrainer.TrainerState.class);
    assertThat(state).isEqualTo(new Pretrainer.TrainerState(3, 12, 1, 0, 0, 0));
  }

  @Test
  void aRankThatNamesTheDamageIsReportedOverOneThatPassedNoneOver() {
    IOException none =
        new PassedOver(1, new PrintWriter(new StringWriter()), "rows", "").tooMany(1, 0);
    PassedOver seen = new PassedOver(0, new PrintWriter(new StringWriter()), "rows", "");
    seen.add("row 7: broken");
    IOException named = seen.tooMany(1, 0);
    assertThat(Pretrainer.rootCause(none, named)).isSameAs(named);
    assertThat(Pretrainer.rootCause(named, none)).isSameAs(named);
    assertThat(named).hasMessageContaining("the last on rank 0: row 7: broken");
  }

  static List<String> args(Path out, int steps, String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "pretrain",
                "--data",
                packed.toString(),
                "--out",
                out.toString(),
                "--steps",
                String.valueOf(steps),
                "--global-batch",
                "4",
                "--micro-batch",
                "2",
                "--lr",
                "3e-3",
                "--warmup",
                "0.1",
                "--checkpoint-every",
                "5",
                "--keep-last",
                "2",
                "--seed",
                "9"));
    args.addAll(List.of(extra));
    return args;
  }

  /** The metrics that must repeat exactly: everything but the timing. */
  static List<String> metrics(Path run) throws IOException {
    List<String> lines = new ArrayList<>();
    for (String line : Files.readAllLines(run.resolve(Pretrainer.METRICS_FILE))) {
      JsonNode node = JSON.readTree(line);
      ((com.fasterxml.jackson.databind.node.ObjectNode) node)
          .remove(List.of("tokens_per_s", "mfu"));
      lines.add(node.toString());
    }
    return lines;
  }

  static byte[] finalWeights(Path run, int step) throws IOException {
    return Files.readAllBytes(new Checkpoints(run).stepDir(step).resolve(Pretrainer.WEIGHTS));
  }

  @Test
  void gpuRanksUseNcclOnlyWhereEachHasAGpuOfItsOwn() {
    // Threads of one process: NCCL when every rank has a GPU, the host collective when they share.
    assertThat(Pretrainer.usesNccl(8, 8, 8)).isTrue();
    assertThat(Pretrainer.usesNccl(2, 2, 8)).isTrue();
    assertThat(Pretrainer.usesNccl(2, 2, 1)).isFalse();
    assertThat(Pretrainer.usesNccl(9, 9, 8)).isFalse();
    // Processes: each process's GPUs are its own, one rank per process or a node's GPUs as threads.
    assertThat(Pretrainer.usesNccl(16, 1, 1)).isTrue();
    assertThat(Pretrainer.usesNccl(16, 8, 8)).isTrue();
    assertThat(Pretrainer.usesNccl(16, 8, 4)).isFalse();
    // One rank exchanges nothing.
    assertThat(Pretrainer.usesNccl(1, 1, 1)).isFalse();
  }

  @Test
  void lossFallsOnPackedSyntheticData() throws IOException {
    Path out = tmp.resolve("run");
    Outcome outcome = run(args(out, 40).toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    List<String> lines = Files.readAllLines(out.resolve(Pretrainer.METRICS_FILE));
    assertThat(lines).hasSize(40);
    double first = 0;
    double last = 0;
    for (int i = 0; i < 5; i++) {
      first += JSON.readTree(lines.get(i)).path("loss").asDouble() / 5;
      last += JSON.readTree(lines.get(lines.size() - 1 - i)).path("loss").asDouble() / 5;
    }
    assertThat(last).as("loss %.3f -> %.3f", first, last).isLessThan(0.6 * first);
    JsonNode line = JSON.readTree(lines.get(0));
    assertThat(line.path("step").asInt()).isEqualTo(1);
    assertThat(line.path("tokens").asLong()).isPositive();
    assertThat(line.path("grad_norm").asDouble()).isPositive();
    // Two checkpoints kept, the last one at the final step.
    assertThat(new Checkpoints(out).list())
        .extracting(path -> path.getFileName().toString())
        .containsExactly("step-00000035", "step-00000040");
    // Started again on a finished run, it has nothing to do.
    Outcome again = run(args(out, 40).toArray(String[]::new));
    assertThat(again.exitCode()).isZero();
    assertThat(again.err()).contains("already complete");
  }

  @Test
  void theBackendIsOneOptionAndAMissingGpuIsAClearError() {
    // This build machine has no GPU: the run stops before training and says what is missing.
    Outcome cuda = run(args(tmp.resolve("cuda"), 2, "--backend", "cuda").toArray(String[]::new));
    assertThat(cuda.exitCode()).as(cuda.err()).isEqualTo(TrainerMain.NO_DEVICE);
    assertThat(cuda.err()).contains("error: ").contains("CUDA");
    assertThat(tmp.resolve("cuda").resolve(Pretrainer.METRICS_FILE)).doesNotExist();

    Outcome bad = run(args(tmp.resolve("tpu"), 2, "--backend", "tpu").toArray(String[]::new));
    assertThat(bad.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(bad.err()).contains("--backend must be cpu or cuda, got 'tpu'");
  }

  @Test
  void killedRunsResumeToTheSameParametersAndMetrics() throws Exception {
    Path reference = tmp.resolve("reference");
    long started = System.nanoTime();
    assertThat(run(args(reference, 20).toArray(String[]::new)).exitCode()).isZero();
    long millis = (System.nanoTime() - started) / 1_000_000;

    SplittableRandom random = new SplittableRandom(11);
    int killed = 0;
    for (int round = 0; round < 3; round++) {
      Path out = tmp.resolve("killed-" + round);
      Process child =
          ChildJvm.start(
              TrainerMain.class, List.of("--add-modules", "jdk.incubator.vector"), args(out, 20));
      if (!child.waitFor(800 + random.nextLong(millis + 1500), TimeUnit.MILLISECONDS)) {
        child.destroyForcibly();
        child.waitFor(30, TimeUnit.SECONDS);
        killed++;
      }
      Outcome resumed = run(args(out, 20).toArray(String[]::new));
      assertThat(resumed.exitCode()).as(resumed.err()).isZero();
      assertThat(metrics(out)).isEqualTo(metrics(reference));
      assertThat(finalWeights(out, 20)).isEqualTo(finalWeights(reference, 20));
    }
    assertThat(killed).as("runs actually killed").isPositive();
  }

  /**
   * Asked to stop, every rank finishes the same step, a checkpoint is written there, and the run
   * started again ends as an uninterrupted one.
   */
  @Test
  void aStopRequestCheckpointsTheStepAndTheRunContinuesFromIt() throws Exception {
    Path reference = tmp.resolve("reference");
    assertThat(run(args(reference, 12, "--ranks", "2").toArray(String[]::new)).exitCode()).isZero();

    Path stopped = tmp.resolve("stopped");
    PretrainOptions options = options(stopped, 12, 2, 0, null);
    StopRequest stop = StopRequest.manual();
    // Asked during step 3's report: the ranks agree on it at the end of step 4.
    ProgressReporter asking = atStep(3, stop::request);
    StringWriter log = new StringWriter();
    PretrainOptions stopping = options;
    try (PackedShards shards = PackedShards.open(packed)) {
      assertThatThrownBy(
              () ->
                  Pretrainer.run(
                      stopping,
                      new PretrainTask(stopping, shards, new PrintWriter(log)),
                      new PrintWriter(log),
                      asking,
                      stop))
          .isInstanceOf(TrainingStopped.class)
          .hasMessageStartingWith("stopped at step 4 of 12 as asked");
    }
    assertThat(log.toString()).contains("stopped at step 4 as asked");
    assertThat(new Checkpoints(stopped).list())
        .extracting(path -> path.getFileName().toString())
        .containsExactly("step-00000004");

    Outcome resumed = run(args(stopped, 12, "--ranks", "2").toArray(String[]::new));
    assertThat(resumed.exitCode()).as(resumed.err()).isZero();
    assertThat(resumed.err()).contains("resuming from step-00000004");
    assertThat(metrics(stopped)).isEqualTo(metrics(reference));
    assertThat(finalWeights(stopped, 12)).isEqualTo(finalWeights(reference, 12));
  }

  /** A progress reporter that runs {@code action} when rank 0 reports step {@code step}. */
  private static ProgressReporter atStep(int step, Runnable action) {
    return new ProgressReporter() {
      @Override
      public void progress(Map<String, Object> progress) {
        if (((Number) progress.get("step")).intValue() == step) {
          action.run();
        }
      }

      @Override
      public void checkpoint(Map<String, Object> checkpoint) {}

      @Override
      public void phase(String phase, String message) {}

      @Override
      public void close() {}
    };
  }

  /**
   * A checkpoint that cannot be written (here its directory's place is taken by a file) fails the
   * run with the cause, although it was written on the checkpoint thread.
   */
  @Test
  void aCheckpointThatCannotBeWrittenFailsTheRun() throws Exception {
    Path out = tmp.resolve("unwritable");
    PretrainOptions options = options(out, 12, 1, 0, null);
    ProgressReporter blocking =
        atStep(
            2,
            () -> {
              try {
                Files.write(out.resolve("checkpoints"), new byte[] {1});
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    try (PackedShards shards = PackedShards.open(packed)) {
      assertThatThrownBy(
              () ->
                  Pretrainer.run(
                      options,
                      new PretrainTask(options, shards, new PrintWriter(new StringWriter())),
                      new PrintWriter(new StringWriter()),
                      blocking,
                      StopRequest.manual()))
          .isInstanceOf(IOException.class)
          .hasMessageStartingWith("writing a checkpoint failed: ");
    }
    // The steps before it are all in the metrics.
    assertThat(Files.readAllLines(out.resolve(Pretrainer.METRICS_FILE)).size())
        .isGreaterThanOrEqualTo(5);
  }

  /**
   * SIGTERM, as Kubernetes sends a pod before it preempts or evicts it: the trainer holds the JVM's
   * shutdown until it has checkpointed the step it is in.
   */
  @Test
  void sigtermStopsTrainingWithACheckpointAtTheStep() throws Exception {
    Path reference = tmp.resolve("reference");
    assertThat(run(args(reference, 40).toArray(String[]::new)).exitCode()).isZero();

    Path out = tmp.resolve("terminated");
    Path progress = tmp.resolve("progress.json");
    List<String> args = args(out, 40, "--progress-file", progress.toString());
    args.set(args.indexOf("--checkpoint-every") + 1, "100");
    Process child =
        ChildJvm.start(TrainerMain.class, List.of("--add-modules", "jdk.incubator.vector"), args);
    Path metrics = out.resolve(Pretrainer.METRICS_FILE);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while ((!Files.exists(metrics) || Files.readAllLines(metrics).size() < 3)
        && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(child.isAlive()).as("still training when signalled").isTrue();
    child.destroy(); // SIGTERM
    assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(child.exitValue()).isEqualTo(143);
    List<Path> written = new Checkpoints(out).list();
    assertThat(written).as("the stop's checkpoint, between the regular ones").hasSize(1);
    long step = Long.parseLong(written.get(0).getFileName().toString().substring(5));
    assertThat(step).isBetween(3L, 39L);
    JsonNode report = new ObjectMapper().readTree(progress.toFile());
    assertThat(report.path("phase").asText()).isEqualTo("Stopped");
    assertThat(report.path("latestCheckpoint").path("step").asLong()).isEqualTo(step);

    Outcome resumed = run(args(out, 40).toArray(String[]::new));
    assertThat(resumed.exitCode()).as(resumed.err()).isZero();
    assertThat(resumed.err()).contains("resuming from " + written.get(0).getFileName());
    assertThat(metrics(out)).isEqualTo(metrics(reference));
    assertThat(finalWeights(out, 40)).isEqualTo(finalWeights(reference, 40));
  }

  @Test
  void aDamagedCheckpointIsSkippedForThePreviousOne() throws IOException {
    Path out = tmp.resolve("run");
    assertThat(run(args(out, 20).toArray(String[]::new)).exitCode()).isZero();
    List<String> expected = metrics(out);
    byte[] expectedWeights = finalWeights(out, 20);

    // What a kill during a checkpoint write leaves: a half-written step-00000025.partial (never
    // renamed into place), and a step directory without its manifest. Neither is used.
    Path partial =
        Files.createDirectories(new Checkpoints(out).dir().resolve("step-00000025.partial"));
    Files.write(partial.resolve(Pretrainer.WEIGHTS), new byte[] {1, 2, 3});
    Path noManifest = Files.createDirectories(new Checkpoints(out).stepDir(24));
    Files.write(noManifest.resolve(Pretrainer.WEIGHTS), new byte[] {1, 2, 3});

    // Damage the last checkpoint's weights; the run restarts from step 15 and redoes 16..20.
    Path weights = new Checkpoints(out).stepDir(20).resolve(Pretrainer.WEIGHTS);
    byte[] bytes = Files.readAllBytes(weights);
    bytes[bytes.length - 3] ^= 0x10;
    Files.write(weights, bytes);
    Outcome outcome = run(args(out, 20).toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    assertThat(outcome.err())
        .contains("skipping checkpoint step-00000024: no manifest")
        .contains("skipping checkpoint step-00000020")
        .contains("resuming from step-00000015");
    assertThat(partial).doesNotExist();
    assertThat(new Checkpoints(out).list())
        .extracting(path -> path.getFileName().toString())
        .containsExactly("step-00000015", "step-00000020");
    assertThat(metrics(out)).isEqualTo(expected);
    assertThat(finalWeights(out, 20)).isEqualTo(expectedWeights);
  }

  /**
   * With sequences held out, the loss on them is measured every K steps and at the end, in
   * metrics.jsonl and the log; ranks measure the same loss as one rank; holding out is part of the
   * run's identity; holding out the whole set is refused.
   */
  @Test
  void theLossOnHeldOutSequencesIsMeasuredEveryKStepsAndAtTheEnd() throws IOException {
    Path one = tmp.resolve("one");
    Outcome a =
        run(args(one, 7, "--eval-sequences", "5", "--eval-every", "3").toArray(String[]::new));
    assertThat(a.exitCode()).as(a.err()).isZero();
    assertThat(a.err()).contains("eval at step 3: held-out loss ", "over 5 sequences");
    List<String> lines = Files.readAllLines(one.resolve(Pretrainer.METRICS_FILE));
    List<Integer> measured = new ArrayList<>();
    for (String line : lines) {
      JsonNode node = JSON.readTree(line);
      if (node.has("eval_loss")) {
        measured.add(node.path("step").asInt());
        assertThat(node.path("eval_loss").asDouble()).isPositive().isLessThan(20);
      }
    }
    assertThat(measured).containsExactly(3, 6, 7);
    double first = JSON.readTree(lines.get(2)).path("eval_loss").asDouble();
    double last = JSON.readTree(lines.get(6)).path("eval_loss").asDouble();
    assertThat(last).as("held-out loss %.3f -> %.3f", first, last).isLessThan(first);

    Path two = tmp.resolve("two");
    Outcome b =
        run(
            args(two, 7, "--eval-sequences", "5", "--eval-every", "3", "--ranks", "2")
                .toArray(String[]::new));
    assertThat(b.exitCode()).as(b.err()).isZero();
    List<String> twoLines = Files.readAllLines(two.resolve(Pretrainer.METRICS_FILE));
    for (int step : new int[] {3, 6, 7}) {
      assertThat(JSON.readTree(twoLines.get(step - 1)).path("eval_loss").asDouble())
          .as("step %d", step)
          .isCloseTo(
              JSON.readTree(lines.get(step - 1)).path("eval_loss").asDouble(),
              org.assertj.core.data.Offset.offset(1e-4));
    }

    Outcome other = run(args(one, 7, "--eval-sequences", "4").toArray(String[]::new));
    assertThat(other.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(other.err()).contains("other settings (evalSequences)");

    Outcome whole =
        run(args(tmp.resolve("all"), 2, "--eval-sequences", "100000").toArray(String[]::new));
    assertThat(whole.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(whole.err()).contains("--eval-sequences 100000: cannot hold out 100000 of");
  }

  @Test
  void ranksShareTheHeldOutItemsInMicroBatches() {
    assertThat(TrainingTask.evaluationShare(7, 0, 2, 3))
        .isEqualTo(List.of(List.of(0, 2, 4), List.of(6)));
    assertThat(TrainingTask.evaluationShare(7, 1, 2, 3)).isEqualTo(List.of(List.of(1, 3, 5)));
    assertThat(TrainingTask.evaluationShare(1, 1, 2, 3)).isEmpty();
  }

  @Test
  void refusesToContinueARunWithOtherSettings() {
    Path out = tmp.resolve("run");
    assertThat(run(args(out, 3).toArray(String[]::new)).exitCode()).isZero();
    List<String> other = args(out, 3);
    other.set(other.indexOf("3e-3"), "1e-3");
    Outcome outcome = run(other.toArray(String[]::new));
    assertThat(outcome.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(outcome.err()).contains("other settings (lr)");
  }

  /**
   * Two ranks with micro-batches of 2 train the same model, to fp32 rounding, as one rank with
   * micro-batches of 4: same sequences per step, gradients summed over the ranks.
   */
  @Test
  void ranksGiveTheParametersOfOneRankWithTheirCombinedMicroBatch() throws IOException {
    Path one = tmp.resolve("one");
    Path two = tmp.resolve("two");
    Outcome a = run(withMicroBatch(args(one, 6), "4").toArray(String[]::new));
    assertThat(a.exitCode()).as(a.err()).isZero();
    Outcome b = run(withMicroBatch(args(two, 6, "--ranks", "2"), "2").toArray(String[]::new));
    assertThat(b.exitCode()).as(b.err()).isZero();

    List<String> oneMetrics = metrics(one);
    List<String> twoMetrics = metrics(two);
    for (int i = 0; i < oneMetrics.size(); i++) {
      JsonNode x = JSON.readTree(oneMetrics.get(i));
      JsonNode y = JSON.readTree(twoMetrics.get(i));
      assertThat(y.path("tokens").asLong()).isEqualTo(x.path("tokens").asLong());
      assertThat(y.path("targets").asLong()).isEqualTo(x.path("targets").asLong());
      assertThat(y.path("loss").asDouble())
          .isCloseTo(x.path("loss").asDouble(), org.assertj.core.data.Offset.offset(1e-4));
    }
    try (SafetensorsFile x =
            SafetensorsFile.open(new Checkpoints(one).stepDir(6).resolve(Pretrainer.WEIGHTS));
        SafetensorsFile y =
            SafetensorsFile.open(new Checkpoints(two).stepDir(6).resolve(Pretrainer.WEIGHTS))) {
      double maxDifference = 0;
      for (String name : x.names()) {
        float[] p = x.readFloats(name);
        float[] q = y.readFloats(name);
        for (int i = 0; i < p.length; i++) {
          maxDifference = Math.max(maxDifference, Math.abs(p[i] - q[i]));
        }
      }
      assertThat(maxDifference).as("largest weight difference").isLessThan(1e-4);
    }
  }

  /**
   * Ranks as processes meeting over TCP (here two threads, each a whole trainer) train exactly as
   * ranks as threads: the same sums in the same order, so the same bits.
   */
  @Test
  void ranksOverTcpTrainExactlyAsRanksInProcess() throws Exception {
    Path threads = tmp.resolve("threads");
    assertThat(run(args(threads, 4, "--ranks", "2").toArray(String[]::new)).exitCode()).isZero();

    Path processes = tmp.resolve("processes");
    runOverTcp(processes, 4, "--ranks", "2");
    assertThat(metrics(processes)).isEqualTo(metrics(threads));
    assertThat(finalWeights(processes, 4)).isEqualTo(finalWeights(threads, 4));
  }

  /**
   * Several processes with several rank threads each (a node's GPUs) train exactly as all the ranks
   * as threads of one process: every rank meets rank 0 over its own connection.
   */
  @Test
  void processesOfSeveralRanksTrainExactlyAsRanksInProcess() throws Exception {
    Path threads = tmp.resolve("threads");
    List<String> inProcess = withMicroBatch(args(threads, 6, "--ranks", "4", "--zero", "2"), "1");
    Outcome outcome = run(inProcess.toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();

    Path nodes = tmp.resolve("nodes");
    List<Outcome> outcomes =
        runOverTcp(
            withMicroBatch(
                args(nodes, 6, "--ranks", "4", "--local-ranks", "2", "--zero", "2"), "1"),
            2);
    assertThat(outcomes.get(0).err()).contains("process 0 of 2 (ranks 0 to 1 of 4)");
    assertThat(outcomes.get(1).err()).contains("process 1 of 2 (ranks 2 to 3 of 4)");
    assertThat(metrics(nodes)).isEqualTo(metrics(threads));
    assertThat(finalWeights(nodes, 6)).isEqualTo(finalWeights(threads, 6));
  }

  /** Options for a run made here without the command line: the same settings as {@link #args}. */
  private static PretrainOptions options(
      Path out, int steps, int ranks, int rank, String rendezvous) {
    return new PretrainOptions(
        packed,
        out,
        steps,
        4,
        2,
        3e-3,
        0.1,
        0.01,
        1.0,
        dev.tessera.engine.ops.AttentionMask.DOCUMENT,
        5,
        2,
        false,
        9,
        10,
        ranks,
        0,
        null,
        null,
        rank,
        1,
        rendezvous,
        dev.tessera.engine.ComputeBackend.CPU,
        null,
        0,
        0,
        rendezvous == null ? ranks : 1,
        true,
        10);
  }

  /** The pre-training task, whose rank 1 cannot read its data. */
  private static TrainingTask failingOnRankOne(PretrainOptions options, PackedShards shards) {
    TrainingTask task = new PretrainTask(options, shards, new PrintWriter(new StringWriter()));
    return new TrainingTask() {
      @Override
      public Map<String, Object> identity() {
        return task.identity();
      }

      @Override
      public VisionLanguageModel buildModel(dev.tessera.engine.Backend backend) throws IOException {
        return task.buildModel(backend);
      }

      @Override
      public RankData open(VisionLanguageModel model, int rank, int ranks, long position)
          throws IOException {
        if (rank == 1) {
          throw new IOException("rank 1's shard is damaged");
        }
        return task.open(model, rank, ranks, position);
      }
    };
  }

  /**
   * When one rank fails, the others fail in their next collective as ranks that lost a peer; the
   * failure reported is the one that stopped them, over threads and over TCP alike.
   */
  @Test
  void theRankThatFailedFirstIsReportedNotThePeersThatLostIt() throws Exception {
    PretrainOptions threads = options(tmp.resolve("threads"), 4, 2, 0, null);
    try (PackedShards shards = PackedShards.open(packed)) {
      assertThatThrownBy(
              () ->
                  Pretrainer.run(
                      threads,
                      failingOnRankOne(threads, shards),
                      new PrintWriter(new StringWriter()),
                      ProgressReporter.NONE))
          .isInstanceOf(IOException.class)
          .hasMessage("rank 1's shard is damaged");
    }

    int port;
    try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
      port = socket.getLocalPort();
    }
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newFixedThreadPool(2);
    try (PackedShards shards = PackedShards.open(packed)) {
      List<java.util.concurrent.Future<Summary>> processes = new ArrayList<>();
      for (int rank = 0; rank < 2; rank++) {
        PretrainOptions process = options(tmp.resolve("tcp"), 4, 2, rank, "127.0.0.1:" + port);
        processes.add(
            pool.submit(
                () ->
                    Pretrainer.run(
                        process,
                        failingOnRankOne(process, shards),
                        new PrintWriter(new StringWriter()),
                        ProgressReporter.NONE)));
      }
      assertThatThrownBy(processes.get(0)::get)
          .hasCauseInstanceOf(PeerLostException.class)
          .hasMessageContaining("rank 0: the connection to rank 1 failed");
      assertThatThrownBy(processes.get(1)::get)
          .hasCauseInstanceOf(IOException.class)
          .hasMessageContaining("rank 1's shard is damaged");
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aRankThatLostAPeerExitsWithItsOwnCode() throws Exception {
    CommandLine cli = TrainerMain.commandLine();
    cli.setErr(new PrintWriter(new StringWriter()));
    PeerLostException lost = new PeerLostException("rank 3: rank 0 did not answer", null);
    assertThat(cli.getExecutionExceptionHandler().handleExecutionException(lost, cli, null))
        .isEqualTo(TrainerMain.PEER_LOST);
    assertThat(Pretrainer.rootCause(lost, new IOException("disk"))).hasMessage("disk");
    assertThat(Pretrainer.rootCause(new IOException("disk"), lost)).hasMessage("disk");
    assertThat(Pretrainer.rootCause(lost, new PeerLostException("later", null))).isSameAs(lost);
  }

  /**
   * Checkpoints written on their own thread while training goes on hold exactly what checkpoints
   * written with training waiting hold, and are reported only once on disk.
   */
  @Test
  void checkpointsWrittenInTheBackgroundEqualThoseWrittenInTheForeground() throws IOException {
    Path background = tmp.resolve("background");
    Path progress = tmp.resolve("progress.json");
    List<String> args = args(background, 10, "--progress-file", progress.toString());
    args.set(args.indexOf("--checkpoint-every") + 1, "2");
    args.set(args.indexOf("--keep-last") + 1, "3");
    Outcome written = run(args.toArray(String[]::new));
    assertThat(written.exitCode()).as(written.err()).isZero();
    assertThat(written.err()).contains("written while training went on");
    // The last checkpoint is reported, once written: the run waits for it before it ends.
    JsonNode report = new ObjectMapper().readTree(progress.toFile());
    assertThat(report.path("latestCheckpoint").path("path").asText())
        .isEqualTo(new Checkpoints(background).stepDir(10).toString());
    assertThat(report.path("checkpoints")).hasSize(5);

    Path foreground = tmp.resolve("foreground");
    List<String> waiting = new ArrayList<>(args);
    waiting.set(waiting.indexOf(background.toString()), foreground.toString());
    waiting.set(waiting.indexOf(progress.toString()), tmp.resolve("waited.json").toString());
    waiting.add("--foreground-checkpoints");
    Outcome waited = run(waiting.toArray(String[]::new));
    assertThat(waited.exitCode()).as(waited.err()).isZero();
    assertThat(waited.err()).doesNotContain("written while training went on");

    assertThat(metrics(background)).isEqualTo(metrics(foreground));
    Checkpoints one = new Checkpoints(background);
    Checkpoints other = new Checkpoints(foreground);
    assertThat(one.list())
        .extracting(p -> p.getFileName().toString())
        .containsExactly("step-00000006", "step-00000008", "step-00000010");
    for (long step : new long[] {6, 8, 10}) {
      for (String file : List.of(Pretrainer.WEIGHTS, Pretrainer.OPTIMIZER, Pretrainer.STATE)) {
        assertThat(Files.readAllBytes(one.stepDir(step).resolve(file)))
            .as("%s of step %d", file, step)
            .isEqualTo(Files.readAllBytes(other.stepDir(step).resolve(file)));
      }
    }
  }

  @Test
  void localRanksMustDivideTheRanksAndNeedARendezvous() {
    Path out = tmp.resolve("bad");
    assertRefused(
        out,
        "--ranks (4) must be a multiple of --local-ranks (3)",
        "--local-ranks",
        "3",
        "--rendezvous",
        "127.0.0.1:1");
    assertRefused(out, "no --rendezvous", "--local-ranks", "2");
    assertRefused(
        out,
        "--rank (this process's index) must be in 0..1, got 2",
        "--local-ranks",
        "2",
        "--rank",
        "2",
        "--rendezvous",
        "127.0.0.1:1");
    assertThat(out).doesNotExist();
  }

  /** A 4-rank run with {@code extra} is refused as bad usage, saying {@code why}. */
  private static void assertRefused(Path out, String why, String... extra) {
    List<String> args = new ArrayList<>(List.of("--ranks", "4"));
    args.addAll(List.of(extra));
    Outcome outcome =
        run(withMicroBatch(args(out, 2, args.toArray(String[]::new)), "1").toArray(String[]::new));
    assertThat(outcome.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(outcome.err()).contains(why);
  }

  /**
   * ZeRO-1 shards the optimizer state over the ranks without changing a bit of the training, and
   * its checkpoints (moments gathered per parameter) resume exactly.
   */
  @Test
  void shardedOptimizerStateTrainsAndResumesExactly() throws IOException {
    Path replicated = tmp.resolve("zero0");
    Path sharded = tmp.resolve("zero1");
    assertThat(
            run(args(replicated, 10, "--ranks", "2", "--zero", "0").toArray(String[]::new))
                .exitCode())
        .isZero();
    assertThat(
            run(args(sharded, 10, "--ranks", "2", "--zero", "1").toArray(String[]::new)).exitCode())
        .isZero();
    assertThat(metrics(sharded)).isEqualTo(metrics(replicated));
    assertThat(finalWeights(sharded, 10)).isEqualTo(finalWeights(replicated, 10));
    assertThat(
            Files.readAllBytes(new Checkpoints(sharded).stepDir(10).resolve(Pretrainer.OPTIMIZER)))
        .isEqualTo(
            Files.readAllBytes(
                new Checkpoints(replicated).stepDir(10).resolve(Pretrainer.OPTIMIZER)));

    // Resume from step 5's sharded state after damaging step 10's.
    Path weights = new Checkpoints(sharded).stepDir(10).resolve(Pretrainer.WEIGHTS);
    byte[] bytes = Files.readAllBytes(weights);
    bytes[bytes.length / 2] ^= 0x01;
    Files.write(weights, bytes);
    Outcome resumed = run(args(sharded, 10, "--ranks", "2", "--zero", "1").toArray(String[]::new));
    assertThat(resumed.exitCode()).as(resumed.err()).isZero();
    assertThat(resumed.err()).contains("resuming from step-00000005");
    assertThat(finalWeights(sharded, 10)).isEqualTo(finalWeights(replicated, 10));
  }

  /**
   * ZeRO-2 sums each gradient on its owner only and clips by a norm summed from the owners' parts:
   * the same training to rounding, over threads and over TCP alike.
   */
  @Test
  void zeroStageTwoTrainsAsStageOneToRounding() throws Exception {
    Path one = tmp.resolve("zero1");
    Path two = tmp.resolve("zero2");
    assertThat(run(args(one, 6, "--ranks", "2", "--zero", "1").toArray(String[]::new)).exitCode())
        .isZero();
    Outcome outcome = run(args(two, 6, "--ranks", "2", "--zero", "2").toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    assertWeightsClose(one, two, 6, 1e-5);

    Path tcp = tmp.resolve("zero2-tcp");
    runOverTcp(tcp, 6, "--ranks", "2", "--zero", "2");
    assertThat(finalWeights(tcp, 6)).isEqualTo(finalWeights(two, 6));
  }

  /** Runs each of two ranks as a whole trainer on its own thread, meeting over TCP. */
  private static void runOverTcp(Path out, int steps, String... extra) throws Exception {
    runOverTcp(args(out, steps, extra), 2);
  }

  /**
   * Runs {@code processes} whole trainers with the command line {@code base}, each on a thread of
   * its own, meeting over TCP; their outcomes, each checked to have succeeded.
   */
  private static List<Outcome> runOverTcp(List<String> base, int processes) throws Exception {
    int port;
    try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
      port = socket.getLocalPort();
    }
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newFixedThreadPool(processes);
    try {
      List<java.util.concurrent.Future<Outcome>> ranks = new ArrayList<>();
      for (int rank = 0; rank < processes; rank++) {
        List<String> args = new ArrayList<>(base);
        args.addAll(List.of("--rank", String.valueOf(rank), "--rendezvous", "127.0.0.1:" + port));
        ranks.add(pool.submit(() -> run(args.toArray(String[]::new))));
      }
      List<Outcome> outcomes = new ArrayList<>();
      for (java.util.concurrent.Future<Outcome> rank : ranks) {
        Outcome outcome = rank.get();
        assertThat(outcome.exitCode()).as(outcome.err()).isZero();
        outcomes.add(outcome);
      }
      return outcomes;
    } finally {
      pool.shutdownNow();
    }
  }

  private static void assertWeightsClose(Path a, Path b, int step, double tolerance)
      throws IOException {
    try (SafetensorsFile x =
            SafetensorsFile.open(new Checkpoints(a).stepDir(step).resolve(Pretrainer.WEIGHTS));
        SafetensorsFile y =
            SafetensorsFile.open(new Checkpoints(b).stepDir(step).resolve(Pretrainer.WEIGHTS))) {
      double maxDifference = 0;
      for (String name : x.names()) {
        float[] p = x.readFloats(name);
        float[] q = y.readFloats(name);
        for (int i = 0; i < p.length; i++) {
          maxDifference = Math.max(maxDifference, Math.abs(p[i] - q[i]));
        }
      }
      assertThat(maxDifference).as("largest weight difference").isLessThan(tolerance);
    }
  }

  private static List<String> withMicroBatch(List<String> args, String microBatch) {
    List<String> copy = new ArrayList<>(args);
    copy.set(copy.indexOf("--micro-batch") + 1, microBatch);
    return copy;
  }

  /**
   * A learning rate that blows the weights up makes the loss non-finite: those steps are logged and
   * not applied, and past --max-bad-steps the run stops with a clear reason.
   */
  @Test
  void nonFiniteStepsAreSkippedThenStopTheRun() throws IOException {
    Path out = tmp.resolve("run");
    Path progress = tmp.resolve("progress.json");
    List<String> args =
        args(
            out,
            30,
            "--max-bad-steps",
            "2",
            "--clip",
            "1e30",
            "--progress-file",
            progress.toString());
    args.set(args.indexOf("--lr") + 1, "1e30");
    args.set(args.indexOf("--warmup") + 1, "0");
    Outcome outcome = run(args.toArray(String[]::new));
    assertThat(outcome.exitCode()).isEqualTo(TrainerMain.RUN_FAILED);
    assertThat(outcome.err())
        .contains("non-finite loss or gradient")
        .contains("not applied")
        .contains("more than --max-bad-steps 2");
    List<String> lines = Files.readAllLines(out.resolve(Pretrainer.METRICS_FILE));
    assertThat(lines.stream().filter(line -> line.contains("\"skipped\":true"))).hasSize(2);
    JsonNode report = JSON.readTree(progress.toFile());
    assertThat(report.path("phase").asText()).isEqualTo("Failed");
    assertThat(report.path("message").asText()).contains("more than --max-bad-steps 2");
    assertThat(report.path("progress").path("step").asInt()).isPositive();
    assertThat(report.path("progress").has("mfu")).as("no --peak-tflops, no MFU").isFalse();
  }

  @Test
  void tokensSetTheStepsFromTheSequenceLength() throws IOException {
    Path out = tmp.resolve("run");
    Path progress = tmp.resolve("progress.json");
    Instant started = Instant.now();
    List<String> args =
        args(out, 1, "--peak-tflops", "0.001", "--progress-file", progress.toString());
    int at = args.indexOf("--steps");
    args.set(at, "--tokens");
    // 4 sequences of 128 tokens per step: 1,500 tokens take 3 steps.
    args.set(at + 1, "1500");
    Outcome outcome = run(args.toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    List<String> lines = Files.readAllLines(out.resolve(Pretrainer.METRICS_FILE));
    assertThat(lines).hasSize(3);
    // With a peak given, each step reports its model FLOPs utilisation.
    assertThat(JSON.readTree(lines.get(2)).path("mfu").asDouble()).isPositive();
    // The progress report the operator or the local runner reads.
    JsonNode report = JSON.readTree(progress.toFile());
    assertThat(report.path("kind").asText()).isEqualTo("PretrainRun");
    assertThat(report.path("phase").asText()).isEqualTo("Succeeded");
    assertThat(report.path("progress").path("step").asInt()).isEqualTo(3);
    assertThat(report.path("latestCheckpoint").path("step").asInt()).isEqualTo(3);
    // The operator's status figures: MFU as a ratio, the same as metrics.jsonl's for the step.
    JsonNode figures = report.path("progress");
    assertThat(figures.path("mfu").isNumber()).as(figures.toString()).isTrue();
    assertThat(figures.path("mfu").asDouble())
        .isPositive()
        .isEqualTo(JSON.readTree(lines.get(2)).path("mfu").asDouble());
    assertThat(figures.path("secondsPerStep").asDouble()).isPositive();
    // Each checkpoint with the time it was written (RFC 3339).
    Instant written = Instant.parse(report.path("latestCheckpoint").path("time").asText());
    assertThat(written).isBetween(started.truncatedTo(ChronoUnit.SECONDS), Instant.now());
    Outcome both = run(args(tmp.resolve("both"), 2, "--tokens", "5").toArray(String[]::new));
    assertThat(both.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(both.err()).contains("either --steps or --tokens");
  }

  /** A Hugging Face directory holding {@code parameters} and {@code config}. */
  private static Path huggingFaceDirectory(
      Path dir, Map<String, Object> config, Parameters parameters) throws IOException {
    Files.createDirectories(dir);
    Files.write(dir.resolve("config.json"), JSON.writeValueAsBytes(config));
    SafetensorsWriter writer = new SafetensorsWriter();
    for (String name : parameters.names()) {
      writer.add(name, DType.F32, parameters.value(name));
    }
    writer.write(dir.resolve("model.safetensors"));
    return dir;
  }

  /**
   * --init-llm and --init-vision start the decoder and tower from Hugging Face directories: with
   * the first step's learning rate 0 (warmup), the checkpoint holds exactly their weights.
   */
  @Test
  void initialWeightsComeFromHuggingFaceDirectories() throws IOException {
    CpuBackend cpu = CpuBackend.get();
    int vocabulary =
        ((Number) ShardManifest.read(packed).layout().get("vocabularySize")).intValue();
    Qwen2Config llmConfig =
        new Qwen2Config(32, 64, 1, 2, 1, vocabulary + 7, 1e-6, 1e4, false, 256, "float32");
    Qwen2Decoder llm = new Qwen2Decoder(cpu, llmConfig, false);
    llm.parameters().initialise(41, 0.1);
    SiglipVisionConfig visionConfig =
        new SiglipVisionConfig(32, 64, 2, 2, 48, 8, 3, 1e-6, "gelu_pytorch_tanh", false);
    SiglipVisionTower tower = new SiglipVisionTower(cpu, visionConfig);
    tower.parameters().initialise(42, 0.1);
    Path llmDir = huggingFaceDirectory(tmp.resolve("llm"), llmConfig.toJson(), llm.parameters());
    Path visionDir =
        huggingFaceDirectory(tmp.resolve("vision"), visionConfig.toJson(), tower.parameters());

    Path out = tmp.resolve("run");
    Outcome outcome =
        run(
            args(out, 1, "--init-llm", llmDir.toString(), "--init-vision", visionDir.toString())
                .toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    try (SafetensorsFile checkpoint =
        SafetensorsFile.open(new Checkpoints(out).stepDir(1).resolve(Pretrainer.WEIGHTS))) {
      for (Parameters part : List.of(llm.parameters(), tower.parameters())) {
        for (String name : part.names()) {
          assertThat(checkpoint.readFloats(name))
              .as(name)
              .containsExactly(cpu.toHost(part.value(name)));
        }
      }
    }

    // A decoder whose embedding is smaller than the data's vocabulary is refused up front.
    Qwen2Config small =
        new Qwen2Config(32, 64, 1, 2, 1, vocabulary - 1, 1e-6, 1e4, false, 256, "float32");
    Path smallDir =
        huggingFaceDirectory(
            tmp.resolve("small"), small.toJson(), new Qwen2Decoder(cpu, small, false).parameters());
    Outcome refused =
        run(
            args(tmp.resolve("refused"), 1, "--init-llm", smallDir.toString())
                .toArray(String[]::new));
    assertThat(refused.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(refused.err()).contains("the decoder embeds only " + (vocabulary - 1));
  }

  /** --model-config FILE sizes the model from Hugging Face configurations, weights at random. */
  @Test
  void aModelConfigFileSetsTheArchitecture() throws IOException {
    int vocabulary =
        ((Number) ShardManifest.read(packed).layout().get("vocabularySize")).intValue();
    Qwen2Config llm = new Qwen2Config(48, 96, 3, 4, 2, vocabulary, 1e-6, 1e4, true, 128, "float32");
    Path config = tmp.resolve("model.json");
    Files.write(config, JSON.writeValueAsBytes(Map.of("text_config", llm.toJson())));
    Path out = tmp.resolve("run");
    Outcome outcome = run(args(out, 1, "--model-config", config.toString()).toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    JsonNode written =
        JSON.readTree(new Checkpoints(out).stepDir(1).resolve(Pretrainer.CONFIG).toFile());
    assertThat(written.path("text_config").path("num_hidden_layers").asInt()).isEqualTo(3);
    assertThat(written.path("text_config").path("hidden_size").asInt()).isEqualTo(48);
    // The tower is the preset's, as the file does not configure it.
    assertThat(written.path("vision_config").path("hidden_size").asInt()).isEqualTo(64);

    Outcome neither =
        run(
            args(
                    tmp.resolve("bad"),
                    1,
                    "--model-config",
                    Files.writeString(tmp.resolve("x.json"), "{}").toString())
                .toArray(String[]::new));
    assertThat(neither.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(neither.err()).contains("neither text_config nor vision_config");
  }

  /** The exported parts load as the models they are, with the trained weights. */
  @Test
  void exportWritesHuggingFaceDirectoriesOfEachPart() throws IOException {
    Path out = tmp.resolve("run");
    assertThat(run(args(out, 5).toArray(String[]::new)).exitCode()).isZero();
    Path exported = tmp.resolve("hf");
    Outcome outcome = run("export", "--from", out.toString(), "--out", exported.toString());
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();

    CpuBackend cpu = CpuBackend.get();
    Qwen2Config llmConfig = Qwen2Config.read(exported.resolve("llm/config.json"));
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, llmConfig, false);
    try (SafetensorsDirectory llm = SafetensorsDirectory.open(exported.resolve("llm"))) {
      decoder.parameters().load(llm);
    }
    SiglipVisionConfig visionConfig =
        SiglipVisionConfig.read(exported.resolve("vision/config.json"));
    SiglipVisionTower tower = new SiglipVisionTower(cpu, visionConfig);
    try (SafetensorsDirectory vision = SafetensorsDirectory.open(exported.resolve("vision"))) {
      tower.parameters().load(vision);
    }
    try (SafetensorsFile checkpoint =
        SafetensorsFile.open(new Checkpoints(out).stepDir(5).resolve(Pretrainer.WEIGHTS))) {
      assertThat(cpu.toHost(decoder.parameters().value("model.norm.weight")))
          .containsExactly(checkpoint.readFloats("model.norm.weight"));
      assertThat(checkpoint.names()).contains("projector.0.weight");
    }
    assertThat(exported.resolve("projector.safetensors")).isRegularFile();
    JsonNode config = JSON.readTree(exported.resolve("config.json").toFile());
    assertThat(config.path("tokens_per_image").asInt()).isEqualTo(4);
    assertThat(config.path("text_config").path("vocab_size").asInt())
        .isEqualTo(llmConfig.vocabSize());

    Outcome occupied = run("export", "--from", out.toString(), "--out", exported.toString());
    assertThat(occupied.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(occupied.err()).contains("not empty");
  }
}
