package dev.tessera.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.trainer.TrainerMain;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code tessera generate NAME}: asks a PretrainRun or FinetuneRun that ran on a local volume about
 * an image — {@code tessera-trainer generate} with the run's newest checkpoint, the tokenizer it
 * was trained with, and the layout it was trained in (chat for a FinetuneRun).
 */
final class GenerateArgs {
  private GenerateArgs() {}

  /**
   * The trainer's {@code generate} arguments for the run named by {@code stage}, followed by {@code
   * options} (image, prompt, sampling).
   */
  static List<String> of(StageLogs.Found stage, List<String> options) throws IOException {
    String kind = stage.id().substring(0, stage.id().indexOf('/'));
    if (!kind.equals("PretrainRun") && !kind.equals("FinetuneRun")) {
      throw new PipelineError(
          stage.id() + " is not a PretrainRun or FinetuneRun: there is no model to ask");
    }
    LocalState state = LocalState.open(stage.volume());
    JsonNode spec = state.get(stage.id()).spec();
    List<String> args = new ArrayList<>();
    args.add("generate");
    args.add("--model");
    args.add(WorkerArgs.abs(stage.volume(), spec.path("output").asText()));
    args.add("--tokenizer");
    args.add(WorkerArgs.abs(stage.volume(), tokenizer(state, spec)));
    if (kind.equals("FinetuneRun") && !options.contains("--chat")) {
      args.add("--chat");
    }
    args.addAll(options);
    return args;
  }

  /**
   * The tokenizer the run was trained with: a FinetuneRun's own, else its PackJob's, else the one
   * the local runner puts on every volume.
   */
  private static String tokenizer(LocalState state, JsonNode spec) {
    if (spec.hasNonNull("tokenizer")) {
      return spec.get("tokenizer").asText();
    }
    JsonNode packJob = spec.path("input").path("packJob");
    if (packJob.isTextual()) {
      LocalState.Entry pack = state.get("PackJob/" + packJob.asText());
      if (pack != null && pack.spec().hasNonNull("tokenizer")) {
        return pack.spec().get("tokenizer").asText();
      }
    }
    return "tokenizer.json";
  }

  /** Runs the trainer's {@code generate} in this process, its text to {@code out}. */
  static int run(PrintStream out, List<String> args) {
    PrintWriter writer = new PrintWriter(out, true);
    return TrainerMain.commandLine()
        .setOut(writer)
        .setErr(writer)
        .execute(args.toArray(String[]::new));
  }
}
