package dev.tessera.model.vlm;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.DType;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.engine.oracle.Torch;
import dev.tessera.model.Parameters;
import dev.tessera.model.clip.ClipImageProcessor;
import dev.tessera.model.clip.ClipModel;
import dev.tessera.model.clip.ClipTextTower;
import dev.tessera.model.clip.ClipVisionTower;
import dev.tessera.model.config.ClipConfig;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.io.SafetensorsWriter;
import dev.tessera.model.oracle.TorchClip;
import dev.tessera.model.oracle.TorchQwen2;
import dev.tessera.model.oracle.TorchSiglip;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.qwen2.Qwen2Decoder;
import dev.tessera.model.siglip.SiglipImageProcessor;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LLaVA-style checkpoints (CLIP tower by directory or embedded, mlp2x_gelu projector, Qwen2
 * decoder) against libtorch: the tower's selected layer without the class token, the projector, and
 * the decoder's logits with the image spliced in.
 */
class LlavaCheckpointTest {
  private static final ClipConfig CLIP =
      new ClipConfig(
          new ClipConfig.Vision(32, 48, 3, 4, 32, 8, 3, 1e-5, "quick_gelu"),
          new ClipConfig.Text(20, 16, 32, 1, 2, 8, 1e-5, "quick_gelu", 19),
          16);
  private static final Qwen2Config LLM =
      new Qwen2Config(32, 48, 2, 4, 2, 97, 1e-6, 10000.0, true, 64, "float32");
  private final CpuBackend cpu = CpuBackend.get();
  @TempDir Path dir;

  @Test
  void paddingToASquareCentresTheImageOnTheMeanColour() {
    int[] rgb = new int[3 * 2 * 3];
    Arrays.fill(rgb, 200);
    // 3 wide, 2 high -> 3 x 3: row 0 and the image below it ((3 - 2) // 2 = 0 rows above).
    int[] square = VisionEncoder.padToSquare(rgb, 3, 2, new int[] {1, 2, 3});
    assertThat(Arrays.copyOfRange(square, 0, 18)).containsOnly(200);
    assertThat(Arrays.copyOfRange(square, 18, 27)).containsExactly(1, 2, 3, 1, 2, 3, 1, 2, 3);
    // 1 wide, 4 high -> 4 x 4, the column at (4 - 1) // 2 = 1.
    int[] tall = new int[3 * 4];
    Arrays.fill(tall, 9);
    int[] padded = VisionEncoder.padToSquare(tall, 1, 4, new int[] {0, 0, 0});
    for (int y = 0; y < 4; y++) {
      for (int x = 0; x < 4; x++) {
        assertThat(padded[(y * 4 + x) * 3]).isEqualTo(x == 1 ? 9 : 0);
      }
    }
  }

  @Test
  void aLlavaCheckpointsLogitsMatchLibtorch() throws IOException {
    for (boolean embedded : new boolean[] {false, true}) {
      Random random = new Random(embedded ? 2 : 1);
      Path model = dir.resolve(embedded ? "llava-embedded" : "llava");
      Setup setup = write(model, random, embedded);
      InferenceModel loaded = InferenceModel.load(cpu, model, 0, null);
      assertThat(loaded.vision().grid()).isEqualTo(4);
      assertThat(loaded.projector().tokensPerImage()).isEqualTo(16);

      BufferedImage image = new BufferedImage(40, 24, BufferedImage.TYPE_INT_RGB);
      for (int y = 0; y < 24; y++) {
        for (int x = 0; x < 40; x++) {
          image.setRGB(x, y, random.nextInt(1 << 24));
        }
      }
      Tensor features = loaded.vision().features(cpu, List.of(image));

      // The reference: padded with OpenAI's mean colour (122, 116, 104), preprocessed, the
      // tower's hidden_states[-2] = after 2 of 3 layers, without the class token.
      int[] square =
          VisionEncoder.padToSquare(
              SiglipImageProcessor.rgb(image), 40, 24, new int[] {122, 116, 104});
      float[] pixels = ClipImageProcessor.openai(32).preprocess(square, 40, 40);
      float[] hidden = setup.tower().visionHiddenState(pixels, 1, 2);
      float[] patches = Arrays.copyOfRange(hidden, 32, hidden.length);
      assertClose("features, embedded=" + embedded, cpu.toHost(features), patches);

      // Projector (Linear, exact GELU, Linear) and decoder, with the image after two tokens.
      var p = setup.projector();
      org.bytedeco.pytorch.Tensor h = Torch.tensor(patches, 16, 32);
      h =
          torch
              .matmul(h, Torch.tensor(p.get("0.weight"), 32, 32).t())
              .add(Torch.tensor(p.get("0.bias"), 32));
      h = torch.gelu(h);
      h =
          torch
              .matmul(h, Torch.tensor(p.get("2.weight"), 32, 32).t())
              .add(Torch.tensor(p.get("2.bias"), 32));
      float[] embeds = Torch.values(h);
      int t = 2 + 16 + 3;
      long[] ids = new long[t];
      boolean[] use = new boolean[t];
      float[] inputEmbeds = new float[t * 32];
      int[] javaIds = new int[t];
      int[] positions = new int[t];
      for (int i = 0; i < t; i++) {
        boolean visual = i >= 2 && i < 18;
        use[i] = visual;
        ids[i] = visual ? 0 : 5 + i;
        javaIds[i] = (int) ids[i];
        positions[i] = i;
        if (visual) {
          System.arraycopy(embeds, (i - 2) * 32, inputEmbeds, i * 32, 32);
        }
      }
      float[] expected = setup.decoder().logits(ids, inputEmbeds, use);
      Qwen2Batch batch =
          new Qwen2Batch(
              1, t, javaIds, positions, new int[t], AttentionMask.CONTINUOUS, null, null, use);
      float[] actual = cpu.toHost(loaded.vlm(cpu).lastLogits(batch, features));
      assertClose(
          "logits, embedded=" + embedded,
          actual,
          Arrays.copyOfRange(expected, (t - 1) * 97, t * 97));
    }
  }

  @Test
  void unsupportedLlavaVariantsAreRefusedByName() throws IOException {
    Path model = dir.resolve("llava");
    write(model, new Random(3), false);
    Path config = model.resolve("config.json");
    String json = Files.readString(config);
    Files.writeString(config, json.replace("\"mlp2x_gelu\"", "\"mlp3x_gelu\""));
    assertThatThrownBy(() -> InferenceModel.load(cpu, model, 0, null))
        .hasMessageContaining("mm_projector_type 'mlp3x_gelu' is not supported");
    Files.writeString(config, json.replace("\"../clip\"", "\"openai/clip-vit-large-patch14-336\""));
    assertThatThrownBy(() -> InferenceModel.load(cpu, model, 0, null))
        .hasMessageContaining("mm_vision_tower 'openai/clip-vit-large-patch14-336' is not a local")
        .hasMessageContaining("mlmFilter.visionTower");
    // The tower named instead: it loads.
    assertThat(InferenceModel.load(cpu, model, 0, dir.resolve("clip")).vision().grid())
        .isEqualTo(4);
    Files.writeString(config, json.replace("\"llava_qwen\"", "\"llava_llama\""));
    assertThatThrownBy(() -> InferenceModel.load(cpu, model, 0, null))
        .hasMessageContaining("Tessera's decoder is Qwen2");
    Files.writeString(config, json.replace("\"patch\"", "\"cls_patch\""));
    assertThatThrownBy(() -> InferenceModel.load(cpu, model, 0, null))
        .hasMessageContaining("mm_vision_select_feature 'cls_patch'");
    Files.writeString(config, json);
    assertThatThrownBy(() -> InferenceModel.load(cpu, model, 2, null))
        .hasMessageContaining("reads all 4x4 patches");
  }

  private record Setup(TorchClip tower, Map<String, float[]> projector, TorchQwen2 decoder) {}

  /**
   * A CLIP directory at {@code dir/../clip} and a LLaVA checkpoint in {@code model}: random decoder
   * and projector, the tower embedded under LLaVA's names (other weights than the directory's) when
   * {@code embedded}.
   */
  private Setup write(Path model, Random random, boolean embedded) throws IOException {
    ClipVisionTower vision = new ClipVisionTower(cpu, CLIP);
    ClipTextTower text = new ClipTextTower(cpu, CLIP);
    TorchSiglip.Weights towerWeights = TorchSiglip.randomize(vision.parameters(), random);
    text.parameters().initialise(7, 0.2);
    new ClipModel(CLIP, vision, text, ClipImageProcessor.openai(32), 4.6)
        .write(dir.resolve("clip"));

    SafetensorsWriter writer = new SafetensorsWriter();
    if (embedded) {
      ClipVisionTower other = new ClipVisionTower(cpu, CLIP);
      towerWeights = TorchSiglip.randomize(other.parameters(), random);
      for (String name : other.parameters().names()) {
        if (name.startsWith("vision_model.")) {
          writer.add(
              "model.vision_tower.vision_tower." + name, DType.F32, other.parameters().value(name));
        }
      }
    }
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, LLM, false);
    decoder.parameters().initialise(11, 0.2);
    for (String name : decoder.parameters().names()) {
      writer.add(name, DType.F32, decoder.parameters().value(name));
    }
    AvgPoolProjector projector = new AvgPoolProjector(cpu, 32, 32, 4, 4);
    TorchSiglip.Weights projectorWeights = TorchSiglip.randomize(projector.parameters(), random);
    Map<String, float[]> byLlavaSuffix = new java.util.HashMap<>();
    Parameters parts = projector.parameters();
    for (String name : parts.names()) {
      String suffix = name.substring("projector.".length());
      writer.add("model.mm_projector." + suffix, DType.F32, parts.value(name));
      byLlavaSuffix.put(suffix, projectorWeights.values().get(name));
    }
    Files.createDirectories(model);
    writer.write(model.resolve("model.safetensors"));
    Map<String, Object> config = LLM.toJson();
    config.put("model_type", "llava_qwen");
    config.put("architectures", List.of("LlavaQwenForCausalLM"));
    config.put("mm_vision_tower", "../clip");
    config.put("mm_hidden_size", 32);
    config.put("mm_projector_type", "mlp2x_gelu");
    config.put("mm_vision_select_layer", -2);
    config.put("mm_vision_select_feature", "patch");
    config.put("image_aspect_ratio", "pad");
    config.put("mm_use_im_start_end", false);
    Files.writeString(model.resolve("config.json"), new ObjectMapper().writeValueAsString(config));
    return new Setup(
        new TorchClip(CLIP, towerWeights),
        byLlavaSuffix,
        TorchQwen2.copyOf(LLM, decoder.parameters()));
  }
}
