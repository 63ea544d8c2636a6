package dev.tessera.model.clip;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.io.AtomicFiles;
import dev.tessera.engine.Backend;
import dev.tessera.engine.DType;
import dev.tessera.engine.Tensor;
import dev.tessera.model.ImageTextModel;
import dev.tessera.model.Parameters;
import dev.tessera.model.config.ClipConfig;
import dev.tessera.model.config.ModelParameters;
import dev.tessera.model.io.SafetensorsDirectory;
import dev.tessera.model.io.SafetensorsWriter;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A whole CLIP model (Hugging Face {@code CLIPModel}): both towers with their projections and the
 * learned logit scale, for image–text scores — OpenAI's checkpoints and those trained with OpenCLIP
 * and converted to Hugging Face layout (LAION, DataComp, DFN).
 *
 * <pre>{@code
 * cosine = <image_embeds / |image_embeds|, text_embeds / |text_embeds|>   (DataComp's CLIP score)
 * logit  = cosine * exp(logit_scale)                                      (CLIP's logits_per_image)
 * }</pre>
 */
public final class ClipModel implements ImageTextModel {
  private final ClipConfig config;
  private final ClipVisionTower vision;
  private final ClipTextTower text;
  private final ClipImageProcessor processor;
  private final double logitScale;

  public ClipModel(
      ClipConfig config,
      ClipVisionTower vision,
      ClipTextTower text,
      ClipImageProcessor processor,
      double logitScale) {
    if (processor.crop() != config.vision().imageSize()) {
      throw new IllegalArgumentException(
          "images are cropped to "
              + processor.crop()
              + " but the tower takes "
              + config.vision().imageSize());
    }
    this.config = config;
    this.vision = vision;
    this.text = text;
    this.processor = processor;
    this.logitScale = logitScale;
  }

  /**
   * Loads a Hugging Face CLIP directory: {@code config.json} ({@code model_type "clip"}), its
   * safetensors ({@code vision_model.*}, {@code text_model.*}, both projections, {@code
   * logit_scale}) and {@code preprocessor_config.json} when present.
   */
  public static ClipModel load(Backend backend, Path directory) throws IOException {
    Path configJson = directory.resolve("config.json");
    if (!Files.isRegularFile(configJson)) {
      throw new IOException(directory + " has no config.json: not a Hugging Face model directory");
    }
    ClipConfig config = ClipConfig.read(configJson);
    Parameters visionParameters = new Parameters(backend, ModelParameters.clipVision(config, true));
    Parameters textParameters = new Parameters(backend, ModelParameters.clipText(config));
    double scale;
    try (SafetensorsDirectory weights = SafetensorsDirectory.open(directory)) {
      visionParameters.load(weights);
      textParameters.load(weights);
      scale = weights.readScalar("logit_scale");
    }
    return new ClipModel(
        config,
        new ClipVisionTower(backend, config, visionParameters),
        new ClipTextTower(backend, config, textParameters),
        ClipImageProcessor.forModel(directory, config.vision().imageSize()),
        scale);
  }

  /**
   * Writes this model as {@link #load} reads it: {@code config.json}, {@code model.safetensors}
   * (F32) and a {@code preprocessor_config.json} with this model's resize, crop and statistics.
   */
  public void write(Path dir) throws IOException {
    Files.createDirectories(dir);
    SafetensorsWriter weights = new SafetensorsWriter().metadata("format", "pt");
    for (Parameters part : List.of(vision.parameters(), text.parameters())) {
      for (String name : part.names()) {
        weights.add(name, DType.F32, part.value(name));
      }
    }
    weights.add("logit_scale", DType.F32, new int[] {}, new float[] {(float) logitScale});
    weights.write(dir.resolve("model.safetensors"));
    ObjectMapper json = new ObjectMapper();
    AtomicFiles.write(dir.resolve("config.json"), json.writeValueAsBytes(config.toJson()));
    AtomicFiles.write(
        dir.resolve("preprocessor_config.json"), json.writeValueAsBytes(processor.toJson()));
  }

  public ClipConfig config() {
    return config;
  }

  public ClipVisionTower vision() {
    return vision;
  }

  public ClipTextTower text() {
    return text;
  }

  public ClipImageProcessor processor() {
    return processor;
  }

  @Override
  public Tensor pixels(Backend backend, List<BufferedImage> images) {
    return processor.batch(backend, images);
  }

  @Override
  public int maxTextTokens() {
    return config.text().maxPositionEmbeddings();
  }

  @Override
  public boolean padsToMaxLength() {
    return false;
  }

  /** {@code get_image_features}: the projected class tokens. */
  @Override
  public Tensor imageEmbeddings(Tensor pixels) {
    return vision.embed(pixels);
  }

  /** {@code get_text_features}: the projected end-of-text positions. */
  @Override
  public Tensor textEmbeddings(int[] ids, int batch, int tokens) {
    return text.embed(ids, batch, tokens);
  }

  /** CLIP defines no pairwise probability: NaN. */
  @Override
  public double probability(double cosine) {
    return Double.NaN;
  }

  /** CLIP's {@code logits_per_image} entry for a cosine: {@code cosine * exp(logit_scale)}. */
  public double logit(double cosine) {
    return cosine * Math.exp(logitScale);
  }
}
