package dev.tessera.trainer;

import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.trainer.pretrain.MemoryPlan;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tessera-trainer plan}: the memory one rank needs, and whether it fits. */
@Command(
    name = "plan",
    mixinStandardHelpOptions = true,
    description = {
      "Prints the bytes per rank to train a Qwen2 decoder and a SigLIP tower in bf16 mixed"
          + " precision, by component, and refuses (exit code 3) a configuration that does not"
          + " fit --device-memory."
    })
final class PlanCommand implements Callable<Integer> {
  static final int DOES_NOT_FIT = 3;
  private static final double GIB = 1L << 30;

  @Spec CommandSpec spec;

  @Option(
      names = "--llm",
      required = true,
      paramLabel = "DIR",
      description = "Qwen2 model directory or config.json.")
  Path llm;

  @Option(
      names = "--vision",
      required = true,
      paramLabel = "DIR",
      description = "SigLIP model directory or config.json.")
  Path vision;

  @Option(names = "--seq-len", description = "Tokens per sequence (default: ${DEFAULT-VALUE}).")
  int sequenceLength = 4096;

  @Option(names = "--image-tokens", description = "Tokens per image (default: ${DEFAULT-VALUE}).")
  int imageTokens = 144;

  @Option(
      names = "--micro-batch",
      description = "Sequences per micro-batch (default: ${DEFAULT-VALUE}).")
  int microBatch = 1;

  @Option(names = "--ranks", description = "Data-parallel ranks (default: ${DEFAULT-VALUE}).")
  int ranks = 8;

  @Option(
      names = "--zero",
      paramLabel = "0|1|2",
      description =
          "ZeRO stage: 1 shards the AdamW moments (each rank updates its own parameters), 2"
              + " also reduces each gradient to its owner only (less traffic, same memory)"
              + " (default: ${DEFAULT-VALUE}).")
  int zero = 1;

  @Option(
      names = "--no-checkpointing",
      description = "Keep every layer's activations instead of recomputing them.")
  boolean noCheckpointing;

  @Option(
      names = "--device-memory",
      paramLabel = "GiB",
      description = "Memory of one rank's device (default: ${DEFAULT-VALUE}, an 80 GB A100/H100).")
  double deviceMemory = 80;

  @Override
  public Integer call() throws IOException {
    Qwen2Config llmConfig = Qwen2Config.read(configFile(llm));
    SiglipVisionConfig visionConfig = SiglipVisionConfig.read(configFile(vision));
    MemoryPlan plan =
        MemoryPlan.of(
            llmConfig,
            visionConfig,
            imageTokens,
            sequenceLength,
            microBatch,
            ranks,
            zero,
            !noCheckpointing);
    PrintWriter out = spec.commandLine().getOut();
    out.printf(
        Locale.ROOT,
        "memory per rank: %d ranks, ZeRO-%d, %d x %d tokens per micro-batch, %s%n",
        ranks,
        zero,
        microBatch,
        sequenceLength,
        noCheckpointing ? "no activation checkpointing" : "activation checkpointing per layer");
    for (Map.Entry<String, Long> part : plan.components().entrySet()) {
      out.printf(Locale.ROOT, "  %-36s %8.2f GiB%n", part.getKey(), part.getValue() / GIB);
    }
    out.printf(
        Locale.ROOT, "  %-36s %8.2f GiB of %.0f GiB%n", "total", plan.total() / GIB, deviceMemory);
    boolean fits = plan.fits((long) (deviceMemory * GIB));
    out.println(
        fits
            ? "fits"
            : "does not fit: use more ranks, a higher ZeRO stage, a smaller micro-batch or"
                + " activation checkpointing");
    out.flush();
    return fits ? 0 : DOES_NOT_FIT;
  }

  private static Path configFile(Path path) {
    return Files.isDirectory(path) ? path.resolve("config.json") : path;
  }
}
