package dev.tessera.trainer;

import dev.tessera.engine.DType;
import dev.tessera.trainer.pretrain.Export;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tessera-trainer export}: a trained model as plain Hugging Face directories. */
@Command(
    name = "export",
    mixinStandardHelpOptions = true,
    description =
        "Writes a checkpoint's model (a run's newest valid one, or the one given) as Hugging Face"
            + " directories: OUT (whole model), OUT/llm (Qwen2ForCausalLM), OUT/vision"
            + " (SiglipVisionModel) and OUT/projector.safetensors.")
final class ExportCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--from",
      required = true,
      paramLabel = "RUN_OR_CHECKPOINT",
      description = "A run directory or one of its checkpoints/step-N directories.")
  Path from;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory.")
  Path out;

  @Option(
      names = "--dtype",
      paramLabel = "f32|bf16",
      description = "Storage type of the weights (default: ${DEFAULT-VALUE}).")
  String dtype = "f32";

  @Override
  public Integer call() throws IOException {
    DType type =
        switch (dtype.toLowerCase(Locale.ROOT)) {
          case "f32", "float32" -> DType.F32;
          case "bf16", "bfloat16" -> DType.BF16;
          default ->
              throw new IllegalArgumentException(
                  "--dtype must be f32 or bf16, got '" + dtype + "'");
        };
    Path checkpoint = Export.export(from, out, type, spec.commandLine().getErr());
    spec.commandLine().getOut().printf("export: %s -> %s%n", checkpoint, out);
    spec.commandLine().getOut().flush();
    return 0;
  }
}
