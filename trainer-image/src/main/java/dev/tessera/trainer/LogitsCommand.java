package dev.tessera.trainer;

import dev.tessera.data.io.Npy;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.io.SafetensorsDirectory;
import dev.tessera.model.qwen2.Qwen2Decoder;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tessera-trainer logits --model DIR --tokens 1,2,3 --out FILE.npy}: runs a Hugging Face
 * Qwen2 checkpoint on token ids and writes the float32 logits, shape [tokens, vocab].
 */
@Command(
    name = "logits",
    mixinStandardHelpOptions = true,
    description =
        "Run a Qwen2 checkpoint on token ids; write float32 logits [tokens, vocab] as .npy.")
final class LogitsCommand implements Callable<Integer> {

  @Option(
      names = "--model",
      required = true,
      paramLabel = "DIR",
      description = "Qwen2 model directory.")
  Path model;

  @Option(
      names = "--tokens",
      required = true,
      split = ",",
      paramLabel = "IDS",
      description = "Comma-separated token ids.")
  int[] tokens;

  @Option(names = "--out", required = true, paramLabel = "FILE", description = "Output .npy file.")
  Path out;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    ModelDirectory dir = ModelDirectory.open(model);
    if (!dir.isQwen2()) {
      throw new IllegalArgumentException(
          dir.config() + " has model_type '" + dir.modelType() + "', expected qwen2");
    }
    Qwen2Config config = Qwen2Config.read(dir.config());
    for (int i = 0; i < tokens.length; i++) {
      if (tokens[i] < 0 || tokens[i] >= config.vocabSize()) {
        throw new IllegalArgumentException(
            "token "
                + tokens[i]
                + " (position "
                + i
                + ") is outside the vocabulary [0, "
                + config.vocabSize()
                + ")");
      }
    }
    Qwen2Decoder decoder = new Qwen2Decoder(CpuBackend.get(), config, false);
    try (SafetensorsDirectory weights = SafetensorsDirectory.open(model)) {
      decoder.parameters().load(weights);
    }
    Tensor logits = decoder.logits(tokens);
    Npy.writeFloat32(out, CpuBackend.get().toHost(logits), tokens.length, config.vocabSize());
    spec.commandLine()
        .getOut()
        .printf("wrote logits [%d, %d] to %s%n", tokens.length, config.vocabSize(), out);
    spec.commandLine().getOut().flush();
    return 0;
  }
}
