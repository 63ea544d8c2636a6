package dev.tessera.trainer;

import dev.tessera.model.config.ModelParameters;
import dev.tessera.model.config.ParameterSet;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.io.CheckpointValidation;
import dev.tessera.model.io.SafetensorsDirectory;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tessera-trainer params --model DIR}: parameter counts per component of a Hugging Face
 * Qwen2 or SigLIP directory, and a check of its weights when it has any.
 */
@Command(
    name = "params",
    mixinStandardHelpOptions = true,
    description = {
      "Print parameter counts per component of a Qwen2 or SigLIP model directory.",
      "When the directory holds weights, check every expected tensor (exit 3 if any is wrong)."
    })
final class ParamsCommand implements Callable<Integer> {
  static final int WEIGHTS_DO_NOT_MATCH = 3;

  @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model directory.")
  Path model;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    ModelDirectory dir = ModelDirectory.open(model);
    ParameterSet parameters;
    String prefix;
    if (dir.isQwen2()) {
      parameters = ModelParameters.qwen2(Qwen2Config.read(dir.config()));
      prefix = "";
    } else if (dir.isSiglip()) {
      parameters = ModelParameters.siglipVision(SiglipVisionConfig.read(dir.config()));
      prefix = "vision_model.";
    } else {
      throw new IllegalArgumentException(
          dir.config()
              + " has model_type '"
              + dir.modelType()
              + "'; expected qwen2, siglip or siglip_vision_model");
    }
    out.printf("%s (%s)%n", model, parameters.model());
    for (Map.Entry<String, Long> component : parameters.countByComponent().entrySet()) {
      out.printf(Locale.ROOT, "  %-28s %,15d%n", component.getKey(), component.getValue());
    }
    out.printf(Locale.ROOT, "  %-28s %,15d%n", "total", parameters.count());
    if (!dir.hasWeights()) {
      out.println("weights: none in the directory (counts from config.json)");
      out.flush();
      return 0;
    }
    try (SafetensorsDirectory weights = SafetensorsDirectory.open(model)) {
      CheckpointValidation validation = CheckpointValidation.check(weights, parameters, prefix);
      if (validation.valid()) {
        out.printf(
            "weights: all %d tensors present with the expected shapes%n",
            parameters.specs().size());
        out.flush();
        return 0;
      }
      out.println(validation.describe(parameters.model()));
      out.flush();
      return WEIGHTS_DO_NOT_MATCH;
    }
  }
}
