package dev.tessera.trainer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.packed.HeldOut;
import dev.tessera.data.packed.PackedShards;
import dev.tessera.engine.Backend;
import dev.tessera.engine.ComputeBackend;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.model.text.ChatTemplate;
import dev.tessera.model.text.QwenTokenizer;
import dev.tessera.model.vlm.VisionLanguageModel;
import dev.tessera.trainer.finetune.Conversations;
import dev.tessera.trainer.finetune.FinetuneTask;
import dev.tessera.trainer.pretrain.Evaluation;
import dev.tessera.trainer.pretrain.TrainingTask;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tessera-trainer evaluate}: the loss of checkpoints on packed sequences or on
 * conversations, to compare them after a run (on a validation set of one's own, or on what the run
 * held out).
 */
@Command(
    name = "evaluate",
    mixinStandardHelpOptions = true,
    description = {
      "The language-model loss of a checkpoint, or of every checkpoint of a run (--all), on"
          + " packed sequences or on conversations (fine-tuning data): all of --data, or the ones"
          + " a run held out (--held-out N). One line per checkpoint on standard output (JSON"
          + " with --json)."
    })
final class EvaluateCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Option(
      names = "--model",
      required = true,
      paramLabel = "DIR",
      description =
          "A checkpoint (a run's step-N directory, or one export wrote), or a run directory: its"
              + " newest verified checkpoint, or with --all each one.")
  Path model;

  @Option(
      names = "--data",
      required = true,
      paramLabel = "PACKED_OR_JSON",
      description =
          "A packed set (tessera-curator pack), or conversations in the LLaVA JSON format that"
              + " finetune reads.")
  Path data;

  @Option(
      names = "--tokenizer",
      paramLabel = "FILE",
      description = "tokenizer.json, for conversations (required with them).")
  Path tokenizer;

  @Option(
      names = "--image-folder",
      paramLabel = "DIR",
      description =
          "Where the conversations' image paths are relative to (default: the JSON file's"
              + " directory).")
  Path imageFolder;

  @Option(
      names = "--image-tokens",
      paramLabel = "N",
      description =
          "Tokens per image, for conversations (default: the fine-tuning run's, from its"
              + " run.json; 729 without one).")
  Integer imageTokens;

  @Option(
      names = "--max-length",
      paramLabel = "N",
      description =
          "Longest row, for conversations (default: the fine-tuning run's; 4096 without one).")
  Integer maxLength;

  @Option(
      names = "--image-quirk",
      paramLabel = "reference|fixed",
      description =
          "The image token layout, for conversations (default: the fine-tuning run's; reference"
              + " without one).")
  String imageQuirk;

  @Option(
      names = "--held-out",
      paramLabel = "N",
      description =
          "Only the N sequences (or conversations) a run given --data and --eval-sequences N held"
              + " out (default: all of --data).")
  int heldOut;

  @Option(names = "--all", description = "Every verified checkpoint of the run, oldest first.")
  boolean all;

  @Option(
      names = "--attention",
      paramLabel = "continuous|document",
      description =
          "The attention mask (default: the run's, from its run.json; document without one).")
  String attention;

  @Option(
      names = "--micro-batch",
      paramLabel = "N",
      description =
          "Sequences per forward pass (default: the run's, from its run.json, which gives its"
              + " eval_loss to the last digit; 2 without one).")
  Integer microBatch;

  @Option(names = "--json", description = "One JSON object per checkpoint.")
  boolean json;

  @Option(
      names = "--backend",
      paramLabel = "cpu|cuda",
      converter = TrainingOptions.BackendConverter.class,
      description = "Where to compute (default: cpu).")
  ComputeBackend backend = ComputeBackend.CPU;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    List<Path> checkpoints = checkpoints(err);
    JsonNode run = runOf(checkpoints.get(0));
    int micro = microBatch != null ? microBatch : run.path("microBatch").asInt(2);
    if (micro < 1) {
      throw new IllegalArgumentException("--micro-batch must be >= 1, got " + micro);
    }
    if (Files.isRegularFile(data)) {
      return conversations(out, err, checkpoints, run, micro);
    }
    try (PackedShards shards = PackedShards.open(data);
        Backend device = backend.open(0)) {
      int[] sequences = sequences(shards.sequenceCount());
      AttentionMask mask = attention(run);
      int side = (int) Math.round(Math.sqrt(shards.layout().imageTokens()));
      if (side * side != shards.layout().imageTokens()) {
        throw new IllegalArgumentException(
            data + " has " + shards.layout().imageTokens() + " image tokens, not a square");
      }
      for (Path checkpoint : checkpoints) {
        long start = System.nanoTime();
        // The projector pools to the set's image tokens (its pooling has no weights).
        VisionLanguageModel loaded = VisionLanguageModel.load(device, checkpoint, side);
        Evaluation.Result result =
            Evaluation.measure(device, loaded, shards, sequences, micro, mask);
        for (int damaged : result.damaged()) {
          err.printf("warning: sequence %d cannot be read or decoded; left out%n", damaged);
        }
        print(out, checkpoint, result, "sequences", start);
      }
    }
    return 0;
  }

  /**
   * The loss on conversations, laid out and measured as finetune measures its held-out loss: with
   * --held-out N on the same N it held out, so each checkpoint gives its run's eval_loss.
   */
  private int conversations(
      PrintWriter out, PrintWriter err, List<Path> checkpoints, JsonNode run, int micro)
      throws IOException {
    if (tokenizer == null) {
      throw new IllegalArgumentException(
          "--tokenizer is required with conversations (" + data + ")");
    }
    Path folder = imageFolder != null ? imageFolder : data.toAbsolutePath().getParent();
    List<Conversations.Conversation> all = Conversations.read(data, folder);
    int[] measured = sequences(all.size());
    int tokens = imageTokens != null ? imageTokens : run.path("imageTokens").asInt(729);
    int length = maxLength != null ? maxLength : run.path("maxLength").asInt(4096);
    ChatTemplate.ImageQuirk quirk =
        ChatTemplate.ImageQuirk.parse(
            imageQuirk != null ? imageQuirk : run.path("imageQuirk").asText("reference"));
    try (QwenTokenizer qwen = QwenTokenizer.load(tokenizer);
        Backend device = backend.open(0)) {
      for (Path checkpoint : checkpoints) {
        long start = System.nanoTime();
        FinetuneTask task =
            new FinetuneTask(all, qwen, checkpoint, false, tokens, length, 0, quirk, heldOut, err);
        VisionLanguageModel model = task.buildModel(device);
        List<Integer> unreadable = new ArrayList<>();
        List<TrainingTask.MicroBatch> batches;
        if (heldOut > 0) {
          // Unreadable held-out conversations are named in the log by the task itself.
          batches = task.evaluation(model, 0, 1, micro);
          unreadable.addAll(task.unreadableHeldOut());
        } else {
          batches =
              task.trainingBatches(
                  model,
                  micro,
                  (i, e) -> {
                    unreadable.add(i);
                    err.printf("warning: conversation %d left out: %s%n", i, e.getMessage());
                  });
        }
        Evaluation.Result result =
            Evaluation.measure(
                device, model, batches, measured.length, unreadable, data.toString());
        print(out, checkpoint, result, "conversations", start);
      }
    }
    return 0;
  }

  /** One checkpoint's line: text, or JSON with --json. */
  private void print(
      PrintWriter out, Path checkpoint, Evaluation.Result result, String unit, long start)
      throws IOException {
    double seconds = (System.nanoTime() - start) / 1e9;
    if (json) {
      Map<String, Object> line = new LinkedHashMap<>();
      line.put("checkpoint", checkpoint.toString());
      line.put("loss", result.loss());
      line.put("targets", result.targets());
      line.put(unit, result.sequences());
      line.put("damaged", result.damaged().size());
      out.println(JSON.writeValueAsString(line));
    } else {
      out.printf(
          Locale.ROOT,
          "%s  loss %.4f  (%d %s, %,d targets, %.1f s)%n",
          checkpoint,
          result.loss(),
          result.sequences(),
          unit,
          result.targets(),
          seconds);
    }
    out.flush();
  }

  /** --model itself, a run's newest verified checkpoint, or with --all each verified one. */
  private List<Path> checkpoints(PrintWriter err) throws IOException {
    return ModelDirectory.checkpoints(model, all, err);
  }

  private int[] sequences(long count) {
    if (heldOut < 0) {
      throw new IllegalArgumentException("--held-out must be >= 0, got " + heldOut);
    }
    if (heldOut > 0) {
      try {
        return HeldOut.split(count, heldOut).evaluation();
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--held-out " + heldOut + ": " + e.getMessage(), e);
      }
    }
    if (count > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(data + " has too many sequences to measure at once");
    }
    return IntStream.range(0, (int) count).toArray();
  }

  /** The run.json of the run the checkpoint belongs to, or an empty object. */
  private static JsonNode runOf(Path checkpoint) throws IOException {
    Path runFile = checkpoint.toAbsolutePath().getParent().getParent().resolve("run.json");
    return Files.isRegularFile(runFile) ? JSON.readTree(runFile.toFile()) : JSON.createObjectNode();
  }

  /** --attention, else the one the checkpoint's run trained with, else document. */
  private AttentionMask attention(JsonNode run) {
    String name = attention != null ? attention : run.path("attention").asText("document");
    try {
      return AttentionMask.valueOf(name.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--attention must be continuous or document, got '" + name + "'", e);
    }
  }
}
