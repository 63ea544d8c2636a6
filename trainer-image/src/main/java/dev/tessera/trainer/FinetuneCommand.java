package dev.tessera.trainer;

import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.model.text.ChatTemplate;
import dev.tessera.model.text.QwenTokenizer;
import dev.tessera.trainer.finetune.Conversations;
import dev.tessera.trainer.finetune.FinetuneTask;
import dev.tessera.trainer.pretrain.PretrainOptions;
import dev.tessera.trainer.pretrain.Pretrainer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tessera-trainer finetune}: the FinetuneRun worker. */
@Command(
    name = "finetune",
    mixinStandardHelpOptions = true,
    description = {
      "Fine-tunes a pre-trained model on LLaVA-format conversations with Open-Qwen2VL's chat"
          + " template: loss on assistant turns only, rows padded (not packed), 729 image tokens"
          + " by default, vision tower frozen.",
      "Checkpoints, resumption, ranks and metrics work as for pretrain."
    })
final class FinetuneCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--data",
      required = true,
      paramLabel = "CONVERSATIONS",
      description = "LLaVA-format JSON: [{id, image, conversations: [{from, value}, ...]}, ...].")
  Path data;

  @Option(
      names = "--image-folder",
      paramLabel = "DIR",
      description = "Where image paths are relative to (default: the JSON file's directory).")
  Path imageFolder;

  @Option(
      names = "--init",
      required = true,
      paramLabel = "RUN_OR_CHECKPOINT",
      description = "A pre-training run (its newest valid checkpoint) or one of its checkpoints.")
  Path init;

  @Option(
      names = "--init-checkpoint",
      paramLabel = "latest|best",
      description =
          "Which checkpoint of the --init run: its newest valid one, or the one with the lowest"
              + " held-out loss that it kept with --keep-best (default: ${DEFAULT-VALUE}).")
  String initCheckpoint = "latest";

  @Option(
      names = "--tokenizer",
      required = true,
      paramLabel = "FILE",
      description = "tokenizer.json.")
  Path tokenizer;

  @Option(names = "--out", required = true, paramLabel = "RUN", description = "Run directory.")
  Path out;

  @Option(names = "--steps", paramLabel = "N", description = "Optimizer steps.")
  Integer steps;

  @Option(names = "--epochs", paramLabel = "E", description = "Or: passes over the data.")
  Double epochs;

  @Option(names = "--image-tokens", description = "Tokens per image (default: ${DEFAULT-VALUE}).")
  int imageTokens = 729;

  @Option(names = "--max-length", description = "Longest row (default: ${DEFAULT-VALUE}).")
  int maxLength = 4096;

  @Mixin TrainingOptions training = new TrainingOptions(128, 2e-5, 0.1);

  @Option(
      names = "--image-quirk",
      paramLabel = "reference|fixed",
      description =
          "reference: drop the token after each image as the reference's tokenisation does;"
              + " fixed: keep it (default: ${DEFAULT-VALUE}).")
  String imageQuirk = "reference";

  @Override
  public Integer call() throws IOException {
    if ((steps == null) == (epochs == null)) {
      throw new IllegalArgumentException("give either --steps or --epochs");
    }
    ChatTemplate.ImageQuirk quirk = ChatTemplate.ImageQuirk.parse(imageQuirk);
    if (!initCheckpoint.equals("latest") && !initCheckpoint.equals("best")) {
      throw new IllegalArgumentException(
          "--init-checkpoint must be latest or best, got '" + initCheckpoint + "'");
    }
    Path folder = imageFolder != null ? imageFolder : data.toAbsolutePath().getParent();
    List<Conversations.Conversation> conversations = Conversations.read(data, folder);
    int stepCount =
        steps != null
            ? steps
            : (int) Math.max(1, Math.ceil(epochs * conversations.size() / training.globalBatch));
    PrintWriter err = spec.commandLine().getErr();
    try (QwenTokenizer qwen = QwenTokenizer.load(tokenizer)) {
      FinetuneTask task =
          new FinetuneTask(
              conversations,
              qwen,
              init,
              initCheckpoint.equals("best"),
              imageTokens,
              maxLength,
              training.seed,
              quirk,
              training.evalSequences,
              err);
      PretrainOptions options =
          training.toOptions(data, out, stepCount, AttentionMask.CONTINUOUS, null, null, null);
      Pretrainer.Summary summary =
          Pretrainer.run(options, task, err, training.reporter("FinetuneRun"));
      PrintWriter printer = spec.commandLine().getOut();
      printer.printf(
          Locale.ROOT,
          "finetune: %d steps, loss %.4f -> %.4f; latest checkpoint %s%n",
          summary.steps(),
          summary.firstLoss(),
          summary.lastLoss(),
          summary.latestCheckpoint());
      printer.flush();
    }
    return 0;
  }
}
