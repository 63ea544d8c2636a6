package dev.tessera.model.siglip;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.io.AtomicFiles;
import dev.tessera.engine.Backend;
import dev.tessera.engine.DType;
import dev.tessera.engine.Tensor;
import dev.tessera.model.ImageTextModel;
import dev.tessera.model.Parameters;
import dev.tessera.model.config.ModelParameters;
import dev.tessera.model.config.SiglipTextConfig;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.io.SafetensorsDirectory;
import dev.tessera.model.io.SafetensorsWriter;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A whole SigLIP model (Hugging Face {@code SiglipModel}): both towers and the learned logit scale
 * and bias, for image–text scores.
 *
 * <pre>{@code
 * cosine      = <image_embeds / |image_embeds|, text_embeds / |text_embeds|>
 * probability = sigmoid(cosine * exp(logit_scale) + logit_bias)     (SigLIP's pairwise sigmoid)
 * }</pre>
 */
public final class SiglipModel implements ImageTextModel {
  private final SiglipVisionTower vision;
  private final SiglipTextTower text;
  private final double logitScale;
  private final double logitBias;

  public SiglipModel(
      SiglipVisionTower vision, SiglipTextTower text, double logitScale, double logitBias) {
    if (vision.config().hiddenSize() != text.config().projectionSize()) {
      throw new IllegalArgumentException(
          "the image embedding has "
              + vision.config().hiddenSize()
              + " values but the text embedding "
              + text.config().projectionSize());
    }
    this.vision = vision;
    this.text = text;
    this.logitScale = logitScale;
    this.logitBias = logitBias;
  }

  /**
   * Loads a Hugging Face SigLIP directory: {@code config.json} ({@code model_type "siglip"}, both
   * configurations) and its safetensors with {@code vision_model.*}, {@code text_model.*}, {@code
   * logit_scale} and {@code logit_bias}.
   */
  public static SiglipModel load(Backend backend, Path directory) throws IOException {
    Path config = directory.resolve("config.json");
    if (!Files.isRegularFile(config)) {
      throw new IOException(directory + " has no config.json: not a Hugging Face model directory");
    }
    SiglipVisionConfig visionConfig = SiglipVisionConfig.read(config);
    if (!visionConfig.useHead()) {
      throw new IOException(
          config + ": vision_use_head is false, but a SigLIP score needs the pooling head");
    }
    SiglipTextConfig textConfig = SiglipTextConfig.read(config);
    Parameters visionParameters =
        new Parameters(backend, ModelParameters.siglipVision(visionConfig));
    Parameters textParameters = new Parameters(backend, ModelParameters.siglipText(textConfig));
    double scale;
    double bias;
    try (SafetensorsDirectory weights = SafetensorsDirectory.open(directory)) {
      visionParameters.load(weights);
      textParameters.load(weights);
      scale = weights.readScalar("logit_scale");
      bias = weights.readScalar("logit_bias");
    }
    return new SiglipModel(
        new SiglipVisionTower(backend, visionConfig, visionParameters),
        new SiglipTextTower(backend, textConfig, textParameters),
        scale,
        bias);
  }

  /**
   * Writes this model as {@link #load} reads it (and as Hugging Face lays a SigLIP checkpoint out):
   * {@code config.json} with both towers' configurations, {@code model.safetensors}.
   */
  public void write(Path dir) throws IOException {
    Files.createDirectories(dir);
    SafetensorsWriter weights = new SafetensorsWriter().metadata("format", "pt");
    for (Parameters part : List.of(vision.parameters(), text.parameters())) {
      for (String name : part.names()) {
        weights.add(name, DType.F32, part.value(name));
      }
    }
    weights.add("logit_scale", DType.F32, new int[] {1}, new float[] {(float) logitScale});
    weights.add("logit_bias", DType.F32, new int[] {1}, new float[] {(float) logitBias});
    weights.write(dir.resolve("model.safetensors"));
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("architectures", List.of("SiglipModel"));
    config.put("model_type", "siglip");
    config.put("text_config", text.config().toJson());
    config.put("vision_config", vision.config().toJson());
    AtomicFiles.write(dir.resolve("config.json"), new ObjectMapper().writeValueAsBytes(config));
  }

  /** {@link SiglipImageProcessor}: resized to the tower's size, mean = std = 0.5. */
  @Override
  public Tensor pixels(Backend backend, List<BufferedImage> images) {
    return SiglipImageProcessor.forTower(vision.config()).batch(backend, images);
  }

  @Override
  public int maxTextTokens() {
    return text.config().maxPositionEmbeddings();
  }

  /** SigLIP pools the last position, so captions are padded to the length it was trained on. */
  @Override
  public boolean padsToMaxLength() {
    return true;
  }

  public SiglipVisionTower vision() {
    return vision;
  }

  public SiglipTextTower text() {
    return text;
  }

  /** The attention-pooling head's image embeddings. */
  @Override
  public Tensor imageEmbeddings(Tensor pixels) {
    return vision.pooled(pixels);
  }

  /**
   * The text tower's embeddings of captions padded as SigLIP's tokenizer pads ({@link
   * #padsToMaxLength}).
   */
  @Override
  public Tensor textEmbeddings(int[] ids, int batch, int tokens) {
    return text.embed(ids, batch, tokens);
  }

  /** SigLIP's match probability for a cosine: {@code sigmoid(cos * exp(scale) + bias)}. */
  @Override
  public double probability(double cosine) {
    return 1 / (1 + Math.exp(-(cosine * Math.exp(logitScale) + logitBias)));
  }
}
