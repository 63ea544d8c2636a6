package dev.tessera.trainer;

import dev.tessera.data.io.Npy;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.io.SafetensorsDirectory;
import dev.tessera.model.siglip.SiglipImageProcessor;
import dev.tessera.model.siglip.SiglipVisionTower;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tessera-trainer vision-features --model DIR --image FILE --out FILE.npy}: the features
 * Open-Qwen2VL takes from SigLIP — the second-to-last encoder layer's output, [patches, hidden] —
 * for one image, from a full SigLIP checkpoint or a vision-only one.
 */
@Command(
    name = "vision-features",
    mixinStandardHelpOptions = true,
    description = {
      "Run a SigLIP vision tower on one image; write the second-to-last layer's features",
      "[patches, hidden] as float32 .npy. The image is resized (bicubic, as Pillow) to the",
      "tower's size unless it already has it, and normalised with mean = std = 0.5."
    })
final class VisionFeaturesCommand implements Callable<Integer> {

  @Option(
      names = "--model",
      required = true,
      paramLabel = "DIR",
      description = "SigLIP model directory.")
  Path model;

  @Option(
      names = "--image",
      required = true,
      paramLabel = "FILE",
      description = "JPEG or PNG image.")
  Path image;

  @Option(names = "--out", required = true, paramLabel = "FILE", description = "Output .npy file.")
  Path out;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    ModelDirectory dir = ModelDirectory.open(model);
    if (!dir.isSiglip()) {
      throw new IllegalArgumentException(
          dir.config()
              + " has model_type '"
              + dir.modelType()
              + "', expected siglip or siglip_vision_model");
    }
    if (!Files.isRegularFile(image)) {
      throw new NoSuchFileException(image.toString(), null, "no such image");
    }
    BufferedImage decoded = ImageIO.read(image.toFile());
    if (decoded == null) {
      throw new IllegalArgumentException(
          image + " is not an image this JVM can decode (JPEG, PNG, BMP, GIF)");
    }
    SiglipVisionConfig config = SiglipVisionConfig.read(dir.config());
    CpuBackend cpu = CpuBackend.get();
    SiglipVisionTower tower = new SiglipVisionTower(cpu, config);
    try (SafetensorsDirectory weights = SafetensorsDirectory.open(model)) {
      tower.parameters().load(weights);
    }
    Tensor pixels = SiglipImageProcessor.forTower(config).batch(cpu, List.of(decoded));
    Tensor features = tower.features(pixels);
    Npy.writeFloat32(out, cpu.toHost(features), config.numPatches(), config.hiddenSize());
    spec.commandLine()
        .getOut()
        .printf(
            "wrote features [%d, %d] (output of encoder layer %d of %d) to %s%n",
            config.numPatches(),
            config.hiddenSize(),
            tower.featureLayer() + 1,
            config.numHiddenLayers(),
            out);
    spec.commandLine().getOut().flush();
    return 0;
  }
}
