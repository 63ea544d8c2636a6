package dev.tessera.model.vlm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.engine.Backend;
import dev.tessera.model.Parameters;
import dev.tessera.model.clip.ClipImageProcessor;
import dev.tessera.model.clip.ClipVisionTower;
import dev.tessera.model.config.ClipConfig;
import dev.tessera.model.config.ModelParameters;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.io.RenamedCheckpoint;
import dev.tessera.model.io.SafetensorsDirectory;
import dev.tessera.model.qwen2.Qwen2Decoder;
import dev.tessera.model.siglip.SiglipVisionTower;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A vision-language model for inference (the MLM-Filter scorer): a vision encoder, the projector
 * and the Qwen2 decoder, read from either layout:
 *
 * <ul>
 *   <li>a directory as Tessera's trainer writes it ({@link VisionLanguageModel}: SigLIP tower,
 *       average-pool projector);
 *   <li>a LLaVA-style checkpoint ({@code config.json} with {@code mm_vision_tower}, {@code
 *       mm_projector_type "mlp2x_gelu"}, {@code mm_vision_select_layer}, {@code
 *       mm_vision_select_feature "patch"}, {@code image_aspect_ratio}; weights {@code
 *       model.mm_projector.*} beside the Qwen2 decoder's) — the layout of LLaVA and of the
 *       MLM-Filter models — whose vision tower, CLIP or SigLIP, comes from the directory {@code
 *       mm_vision_tower} names (or the one given), its weights from the checkpoint when it holds
 *       {@code model.vision_tower.vision_tower.*}.
 * </ul>
 */
public record InferenceModel(
    VisionEncoder vision, AvgPoolProjector projector, Qwen2Decoder decoder) {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Where LLaVA checkpoints keep an embedded vision tower's {@code vision_model.*} weights. */
  static final String LLAVA_TOWER = "model.vision_tower.vision_tower.";

  /**
   * Loads either layout (see the class comment).
   *
   * @param pooledSide image tokens per side for Tessera's layout (0: the checkpoint's); LLaVA's
   *     projector reads every patch, so there it must be 0 or the tower's grid
   * @param visionTower the LLaVA tower's directory, or null for {@code mm_vision_tower}
   */
  public static InferenceModel load(Backend backend, Path dir, int pooledSide, Path visionTower)
      throws IOException {
    Path configFile = dir.resolve("config.json");
    if (!Files.isRegularFile(configFile)) {
      throw new IllegalArgumentException(dir + " has no config.json: not a model directory");
    }
    JsonNode config = JSON.readTree(configFile.toFile());
    if (!config.has("mm_vision_tower") && !config.path("model_type").asText().startsWith("llava")) {
      VisionLanguageModel model = VisionLanguageModel.load(backend, dir, pooledSide);
      return new InferenceModel(
          VisionEncoder.siglip(model.tower(), model.tower().featureLayer() + 1, false),
          model.projector(),
          model.decoder());
    }
    return llava(backend, dir, configFile, config, pooledSide, visionTower);
  }

  private static InferenceModel llava(
      Backend backend, Path dir, Path configFile, JsonNode config, int pooledSide, Path visionTower)
      throws IOException {
    String modelType = config.path("model_type").asText("");
    if (modelType.contains("llama") || modelType.contains("mistral")) {
      throw new IllegalArgumentException(
          configFile + ": model_type '" + modelType + "': Tessera's decoder is Qwen2");
    }
    String projectorType = config.path("mm_projector_type").asText("linear");
    if (!projectorType.equals("mlp2x_gelu")) {
      throw new IllegalArgumentException(
          configFile + ": mm_projector_type '" + projectorType + "' is not supported (mlp2x_gelu)");
    }
    String feature = config.path("mm_vision_select_feature").asText("patch");
    if (!feature.equals("patch")) {
      throw new IllegalArgumentException(
          configFile + ": mm_vision_select_feature '" + feature + "' is not supported (patch)");
    }
    String aspect = config.path("image_aspect_ratio").asText("square");
    if (!aspect.equals("pad") && !aspect.equals("square") && !aspect.equals("resize")) {
      throw new IllegalArgumentException(
          configFile + ": image_aspect_ratio '" + aspect + "' is not supported (pad, square)");
    }
    boolean pad = aspect.equals("pad");
    int select = config.path("mm_vision_select_layer").asInt(-2);
    ObjectNode llm = ((ObjectNode) config.deepCopy()).put("model_type", "qwen2");
    Qwen2Config decoderConfig = Qwen2Config.parse(llm.toString(), configFile.toString());

    Path towerDir = towerDirectory(dir, configFile, config, visionTower);
    JsonNode towerConfig = JSON.readTree(towerDir.resolve("config.json").toFile());
    String towerType = towerConfig.path("model_type").asText("");
    try (SafetensorsDirectory weights = SafetensorsDirectory.open(dir)) {
      boolean embedded = weights.names().stream().anyMatch(n -> n.startsWith(LLAVA_TOWER));
      VisionEncoder vision;
      Parameters towerParameters;
      if (towerType.equals("clip")) {
        ClipConfig clip = ClipConfig.read(towerDir.resolve("config.json"));
        towerParameters = new Parameters(backend, ModelParameters.clipVision(clip, false));
        ClipVisionTower tower = new ClipVisionTower(backend, clip, towerParameters);
        int layers = selectedLayers(select, clip.vision().numHiddenLayers(), configFile);
        vision =
            VisionEncoder.clip(
                tower,
                ClipImageProcessor.forModel(towerDir, clip.vision().imageSize()),
                layers,
                pad);
      } else if (towerType.equals("siglip") || towerType.equals("siglip_vision_model")) {
        SiglipVisionConfig siglip = SiglipVisionConfig.read(towerDir.resolve("config.json"));
        SiglipVisionConfig headless =
            new SiglipVisionConfig(
                siglip.hiddenSize(),
                siglip.intermediateSize(),
                siglip.numHiddenLayers(),
                siglip.numAttentionHeads(),
                siglip.imageSize(),
                siglip.patchSize(),
                siglip.numChannels(),
                siglip.layerNormEps(),
                siglip.hiddenAct(),
                false);
        towerParameters = new Parameters(backend, ModelParameters.siglipVision(headless));
        SiglipVisionTower tower = new SiglipVisionTower(backend, headless, towerParameters);
        int layers = selectedLayers(select, siglip.numHiddenLayers(), configFile);
        vision = VisionEncoder.siglip(tower, layers, pad);
      } else {
        throw new IllegalArgumentException(
            towerDir + ": vision tower model_type '" + towerType + "' is not clip or siglip");
      }
      int mmHidden = config.path("mm_hidden_size").asInt(vision.hiddenSize());
      if (mmHidden != vision.hiddenSize()) {
        throw new IllegalArgumentException(
            configFile
                + ": mm_hidden_size "
                + mmHidden
                + " but the tower in "
                + towerDir
                + " has hidden size "
                + vision.hiddenSize());
      }
      if (pooledSide != 0 && pooledSide != vision.grid()) {
        throw new IllegalArgumentException(
            "a LLaVA projector reads all "
                + vision.grid()
                + "x"
                + vision.grid()
                + " patches; imageTokens cannot pool them to "
                + pooledSide
                + "x"
                + pooledSide);
      }
      if (embedded) {
        towerParameters.load(
            new RenamedCheckpoint(weights, "vision_model.", LLAVA_TOWER + "vision_model."));
      } else {
        try (SafetensorsDirectory towerWeights = SafetensorsDirectory.open(towerDir)) {
          towerParameters.load(towerWeights);
        }
      }
      AvgPoolProjector projector =
          new AvgPoolProjector(
              backend,
              vision.hiddenSize(),
              decoderConfig.hiddenSize(),
              vision.grid(),
              vision.grid());
      projector
          .parameters()
          .load(new RenamedCheckpoint(weights, "projector.", "model.mm_projector."));
      Qwen2Decoder decoder = new Qwen2Decoder(backend, decoderConfig, false);
      decoder.parameters().load(weights);
      return new InferenceModel(vision, projector, decoder);
    }
  }

  /** The tower directory: given, or {@code mm_vision_tower} as a path (relative to the model). */
  private static Path towerDirectory(Path dir, Path configFile, JsonNode config, Path given) {
    if (given != null) {
      if (!Files.isRegularFile(given.resolve("config.json"))) {
        throw new IllegalArgumentException("vision tower " + given + " has no config.json");
      }
      return given;
    }
    String named = config.path("mm_vision_tower").asText("");
    Path candidate = dir.resolve(named);
    if (named.isEmpty() || !Files.isRegularFile(candidate.resolve("config.json"))) {
      throw new IllegalArgumentException(
          configFile
              + ": mm_vision_tower '"
              + named
              + "' is not a local model directory; download it and name it with"
              + " mlmFilter.visionTower");
    }
    return candidate;
  }

  /** LLaVA's {@code hidden_states[select]} as a count of encoder layers run. */
  private static int selectedLayers(int select, int towerLayers, Path configFile) {
    int layers = select >= 0 ? select : towerLayers + 1 + select;
    if (layers < 0 || layers > towerLayers) {
      throw new IllegalArgumentException(
          configFile
              + ": mm_vision_select_layer "
              + select
              + " is outside a tower of "
              + towerLayers
              + " layers");
    }
    return layers;
  }

  /** The projector and decoder, for next-token logits over the encoder's features. */
  public OpenQwen2VL vlm(Backend backend) {
    return new OpenQwen2VL(backend, projector, decoder);
  }
}
