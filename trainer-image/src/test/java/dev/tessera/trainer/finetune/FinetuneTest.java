package dev.tessera.trainer.finetune;

import static dev.tessera.trainer.TrainerCli.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.text.QwenTokenizerFiles;
import dev.tessera.model.vlm.RandomVlm;
import dev.tessera.trainer.TrainerCli.Outcome;
import dev.tessera.trainer.TrainerMain;
import dev.tessera.trainer.pretrain.Checkpoints;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Fine-tuning end to end: a small model with the real Qwen vocabulary on a few conversations. */
class FinetuneTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  /** A pre-training checkpoint as pretrain writes one: config.json and model.safetensors. */
  private Path checkpoint() throws IOException {
    Path step = Files.createDirectories(dir.resolve("pretrain/checkpoints/step-00000010"));
    RandomVlm.of(
            CpuBackend.get(),
            new Qwen2Config(16, 32, 1, 2, 1, 151936, 1e-6, 1e4, true, 512, "float32"),
            4,
            1,
            0.05)
        .write(step);
    return step;
  }

  /**
   * A pre-training run directory with verified checkpoints at steps 2 and 4 (different weights),
   * whose trainer state names {@code bestStep} (0: none kept) as --keep-best would.
   */
  private Path runWithBest(long bestStep) throws IOException {
    Path run = dir.resolve("pretrain-run-" + bestStep);
    Checkpoints checkpoints = new Checkpoints(run);
    for (long step : new long[] {2, 4}) {
      checkpoints.write(
          step,
          directory -> {
            RandomVlm.of(
                    CpuBackend.get(),
                    new Qwen2Config(16, 32, 1, 2, 1, 151936, 1e-6, 1e4, true, 512, "float32"),
                    4,
                    step,
                    0.05)
                .write(directory);
            Files.writeString(
                directory.resolve("trainer-state.json"),
                "{\"step\": " + step + ", \"bestStep\": " + bestStep + "}");
          });
    }
    return run;
  }

  /**
   * --init-checkpoint best starts from the checkpoint a run kept with --keep-best, not its newest;
   * a run that kept none, a best checkpoint gone, or a checkpoint directory as --init are refused.
   */
  @Test
  void fineTuningStartsFromTheBestCheckpointWhenAsked() throws IOException {
    Path data = conversations();
    Path run = runWithBest(2);
    Path out = dir.resolve("from-best");
    Outcome best = run(args(run, data, out, "--init-checkpoint", "best").toArray(String[]::new));
    assertThat(best.exitCode()).as(best.err()).isZero();
    assertThat(JSON.readTree(out.resolve("run.json").toFile()).path("init").asText())
        .isEqualTo(new Checkpoints(run).stepDir(2).toAbsolutePath().normalize().toString());
    Path latestOut = dir.resolve("from-latest");
    Outcome latest = run(args(run, data, latestOut).toArray(String[]::new));
    assertThat(latest.exitCode()).as(latest.err()).isZero();
    assertThat(JSON.readTree(latestOut.resolve("run.json").toFile()).path("init").asText())
        .isEqualTo(new Checkpoints(run).stepDir(4).toAbsolutePath().normalize().toString());

    Outcome none =
        run(
            args(runWithBest(0), data, dir.resolve("none"), "--init-checkpoint", "best")
                .toArray(String[]::new));
    assertThat(none.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(none.err()).contains("kept no best checkpoint: it was not trained with --keep-best");

    dev.tessera.data.io.AtomicFiles.deleteRecursively(new Checkpoints(run).stepDir(2));
    Outcome gone =
        run(
            args(run, data, dir.resolve("gone"), "--init-checkpoint", "best")
                .toArray(String[]::new));
    assertThat(gone.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(gone.err()).contains("the best checkpoint ").contains("cannot be used: no manifest");

    Outcome checkpoint =
        run(
            args(
                    new Checkpoints(run).stepDir(4),
                    data,
                    dir.resolve("c"),
                    "--init-checkpoint",
                    "best")
                .toArray(String[]::new));
    assertThat(checkpoint.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(checkpoint.err()).contains("--init-checkpoint best needs a run directory");
    Outcome bad =
        run(
            args(run, data, dir.resolve("bad"), "--init-checkpoint", "first")
                .toArray(String[]::new));
    assertThat(bad.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(bad.err()).contains("--init-checkpoint must be latest or best, got 'first'");
  }

  private Path conversations() throws IOException {
    Path images = Files.createDirectories(dir.resolve("data/images"));
    List<Map<String, Object>> examples = new ArrayList<>();
    String[] colours = {"red", "green", "blue", "yellow", "white", "black"};
    Color[] values = {Color.RED, Color.GREEN, Color.BLUE, Color.YELLOW, Color.WHITE, Color.BLACK};
    for (int i = 0; i < colours.length; i++) {
      BufferedImage image = new BufferedImage(40, 30, BufferedImage.TYPE_INT_RGB);
      Graphics2D g = image.createGraphics();
      g.setColor(values[i]);
      g.fillRect(5, 5, 20, 15);
      g.dispose();
      ImageIO.write(image, "png", images.resolve(i + ".png").toFile());
      examples.add(
          Map.of(
              "id", "img" + i,
              "image", "images/" + i + ".png",
              "conversations",
                  List.of(
                      Map.of("from", "human", "value", "<image>\nWhat colour is the box?"),
                      Map.of("from", "gpt", "value", "The box is " + colours[i] + "."))));
    }
    examples.add(
        Map.of(
            "id",
            "text",
            "conversations",
            List.of(
                Map.of("from", "human", "value", "Name a colour."),
                Map.of("from", "gpt", "value", "Blue."))));
    Path file = dir.resolve("data/sft.json");
    Files.write(file, JSON.writeValueAsBytes(examples));
    return file;
  }

  private List<String> args(Path init, Path data, Path out, String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "finetune",
                "--data",
                data.toString(),
                "--init",
                init.toString(),
                "--tokenizer",
                QwenTokenizerFiles.tokenizerJson().toString(),
                "--out",
                out.toString(),
                "--steps",
                "4",
                "--global-batch",
                "2",
                "--micro-batch",
                "1",
                "--image-tokens",
                "4",
                "--max-length",
                "256",
                "--lr",
                "1e-3",
                "--checkpoint-every",
                "2"));
    args.addAll(List.of(extra));
    return args;
  }

  @Test
  void finetunesOnConversationsIncludingTextOnlyOnes() throws IOException {
    Path init = checkpoint();
    Path data = conversations();
    Path out = dir.resolve("sft");
    Outcome outcome = run(args(init, data, out).toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    List<String> lines = Files.readAllLines(out.resolve("metrics.jsonl"));
    assertThat(lines).hasSize(4);
    for (String line : lines) {
      JsonNode node = JSON.readTree(line);
      assertThat(node.path("loss").asDouble()).isFinite().isPositive();
      // Two examples per step; only their answers ("The box is red.<|im_end|>\n", ...) count.
      assertThat(node.path("targets").asInt()).isBetween(2 * 4, 2 * 12);
    }
    assertThat(JSON.readTree(out.resolve("run.json").toFile()).path("task").asText())
        .isEqualTo("finetune");
    Outcome again = run(args(init, data, out).toArray(String[]::new));
    assertThat(again.err()).contains("already complete");
  }

  /**
   * Conversations held out of fine-tuning: their loss every 2 steps and at the end; then {@code
   * evaluate} gives each checkpoint that very loss, and measures every conversation too.
   */
  @Test
  void theLossOnHeldOutConversationsIsMeasuredAndEvaluateGivesItAgain() throws IOException {
    Path init = checkpoint();
    Path data = conversations();
    Path out = dir.resolve("sft-eval");
    Outcome outcome =
        run(
            args(init, data, out, "--eval-sequences", "2", "--eval-every", "2")
                .toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    assertThat(outcome.err()).contains("eval at step 2: held-out loss ", "over 2 sequences");
    List<Integer> measured = new ArrayList<>();
    Map<Integer, Double> evalLoss = new java.util.HashMap<>();
    for (String line : Files.readAllLines(out.resolve("metrics.jsonl"))) {
      JsonNode node = JSON.readTree(line);
      if (node.has("eval_loss")) {
        measured.add(node.path("step").asInt());
        evalLoss.put(node.path("step").asInt(), node.path("eval_loss").asDouble());
        assertThat(node.path("eval_loss").asDouble()).isFinite().isPositive();
      }
    }
    assertThat(measured).containsExactly(2, 4);

    String tokenizer = QwenTokenizerFiles.tokenizerJson().toString();
    Outcome evaluated =
        run(
            "evaluate",
            "--model",
            out.toString(),
            "--data",
            data.toString(),
            "--tokenizer",
            tokenizer,
            "--held-out",
            "2",
            "--all",
            "--json");
    assertThat(evaluated.exitCode()).as(evaluated.err()).isZero();
    List<String> lines = evaluated.out().lines().toList();
    assertThat(lines).hasSize(2);
    for (int i = 0; i < 2; i++) {
      JsonNode line = JSON.readTree(lines.get(i));
      int step = 2 * (i + 1);
      assertThat(line.path("checkpoint").asText()).endsWith(String.format("step-%08d", step));
      assertThat(line.path("conversations").asInt()).isEqualTo(2);
      assertThat(line.path("loss").asDouble()).as("step %d", step).isEqualTo(evalLoss.get(step));
    }
    // Every conversation (the text-only one too), one checkpoint, as text.
    Outcome whole =
        run(
            "evaluate",
            "--model",
            out.resolve("checkpoints/step-00000004").toString(),
            "--data",
            data.toString(),
            "--tokenizer",
            tokenizer);
    assertThat(whole.exitCode()).as(whole.err()).isZero();
    assertThat(whole.out()).contains("step-00000004  loss ").contains("(7 conversations, ");
    Outcome untokenized = run("evaluate", "--model", out.toString(), "--data", data.toString());
    assertThat(untokenized.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(untokenized.err()).contains("--tokenizer is required with conversations");

    Outcome all =
        run(
            args(init, data, dir.resolve("sft-all"), "--eval-sequences", "7")
                .toArray(String[]::new));
    assertThat(all.exitCode()).isNotZero();
    assertThat(all.err()).contains("--eval-sequences 7: cannot hold out 7 of 7");
  }

  /**
   * A fine-tuning run restarted from its step-2 checkpoint ends with the same metrics and weights.
   */
  @Test
  void resumesExactlyFromACheckpoint() throws IOException {
    Path init = checkpoint();
    Path data = conversations();
    Path out = dir.resolve("sft");
    assertThat(run(args(init, data, out).toArray(String[]::new)).exitCode()).isZero();
    List<String> metrics = Files.readAllLines(out.resolve("metrics.jsonl"));
    Path last = out.resolve("checkpoints/step-00000004/model.safetensors");
    byte[] weights = Files.readAllBytes(last);
    byte[] damaged = weights.clone();
    damaged[damaged.length - 1] ^= 1;
    Files.write(last, damaged);

    Outcome resumed = run(args(init, data, out).toArray(String[]::new));
    assertThat(resumed.exitCode()).as(resumed.err()).isZero();
    assertThat(resumed.err()).contains("resuming from step-00000002");
    List<String> again = Files.readAllLines(out.resolve("metrics.jsonl"));
    assertThat(again).hasSameSizeAs(metrics);
    for (int i = 0; i < metrics.size(); i++) {
      JsonNode a = JSON.readTree(metrics.get(i));
      JsonNode b = JSON.readTree(again.get(i));
      assertThat(b.path("loss")).isEqualTo(a.path("loss"));
      assertThat(b.path("targets")).isEqualTo(a.path("targets"));
    }
    assertThat(Files.readAllBytes(last)).isEqualTo(weights);
  }

  @Test
  void aPoolGridLargerThanTheTowersIsRefused() throws IOException {
    Path init = checkpoint();
    Path data = conversations();
    List<String> args = args(init, data, dir.resolve("sft"));
    args.set(args.indexOf("--image-tokens") + 1, "729");
    Outcome outcome = run(args.toArray(String[]::new));
    assertThat(outcome.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(outcome.err()).contains("--image-tokens 729 pools to 27x27");
  }

  /**
   * A conversation whose image file is damaged is passed over with a warning, up to
   * --max-damaged-sequences; past that the run stops, naming it.
   */
  @Test
  void aConversationWithADamagedImageIsPassedOver() throws IOException {
    Path init = checkpoint();
    Path data = conversations();
    // The box picture of the first conversation, overwritten after the file was written.
    Files.write(dir.resolve("data/images/0.png"), new byte[] {'n', 'o', 't', ' ', 'p', 'n', 'g'});
    Outcome outcome = run(args(init, data, dir.resolve("passed")).toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    assertThat(outcome.err())
        .contains("warning: rank 0 passes over a conversation at stream position")
        .contains("0.png");

    // Held out, it is left out of every measurement of the held-out loss, named once.
    int held = 1;
    while (java.util.Arrays.stream(dev.tessera.data.packed.HeldOut.split(7, held).evaluation())
        .noneMatch(i -> i == 0)) {
      held++;
    }
    Outcome measured =
        run(
            args(
                    init,
                    data,
                    dir.resolve("held"),
                    "--eval-sequences",
                    String.valueOf(held),
                    "--eval-every",
                    "2")
                .toArray(String[]::new));
    assertThat(measured.exitCode()).as(measured.err()).isZero();
    String warning = "leaves a held-out conversation out of the held-out loss";
    assertThat(measured.err().split(java.util.regex.Pattern.quote(warning), -1)).hasSize(2);
    assertThat(measured.err()).contains("0.png");
    assertThat(Files.readString(dir.resolve("held").resolve("metrics.jsonl")))
        .contains("\"eval_loss\"");

    Outcome strict =
        run(
            args(init, data, dir.resolve("strict"), "--max-damaged-sequences", "0")
                .toArray(String[]::new));
    assertThat(strict.exitCode()).isEqualTo(TrainerMain.IO_ERROR);
    assertThat(strict.err())
        .contains(
            "1 conversations whose image cannot be read passed over in this run, more than"
                + " --max-damaged-sequences 0 (check the images they name)")
        .contains("0.png");
  }
}
