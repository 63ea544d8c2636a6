package dev.tessera.model.clip;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.DType;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.oracle.Torch;
import dev.tessera.model.ImageTextModel;
import dev.tessera.model.config.ClipConfig;
import dev.tessera.model.io.SafetensorsWriter;
import dev.tessera.model.oracle.TorchClip;
import dev.tessera.model.oracle.TorchSiglip;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** CLIP towers and whole checkpoints against an independent libtorch CLIP on random weights. */
class ClipModelTest {
  private static final int VOCAB = 50;
  private static final int EOS = 49;
  private final CpuBackend cpu = CpuBackend.get();
  @TempDir Path dir;

  private static ClipConfig tiny(String act, int eosTokenId) {
    return new ClipConfig(
        new ClipConfig.Vision(48, 64, 2, 4, 16, 4, 3, 1e-5, act),
        new ClipConfig.Text(VOCAB, 32, 80, 2, 2, 10, 1e-5, act, eosTokenId),
        24);
  }

  private record Random2(ClipVisionTower vision, ClipTextTower text, TorchClip reference) {}

  private Random2 randomTowers(ClipConfig config, Random random) {
    ClipVisionTower vision = new ClipVisionTower(cpu, config);
    ClipTextTower text = new ClipTextTower(cpu, config);
    TorchSiglip.Weights visionWeights = TorchSiglip.randomize(vision.parameters(), random);
    TorchSiglip.Weights textWeights = TorchSiglip.randomize(text.parameters(), random);
    return new Random2(vision, text, new TorchClip(config, visionWeights, textWeights));
  }

  /** Captions with the end-of-text token at different places, padding (0) after it. */
  private static int[] captions(Random random, int batch, int tokens, int eos) {
    int[] ids = new int[batch * tokens];
    for (int b = 0; b < batch; b++) {
      int end = 2 + random.nextInt(tokens - 2);
      ids[b * tokens] = VOCAB - 2; // the start token
      for (int t = 1; t < end; t++) {
        ids[b * tokens + t] = 1 + random.nextInt(VOCAB - 3);
      }
      ids[b * tokens + end] = eos;
    }
    return ids;
  }

  @Test
  void imageEmbeddingsMatchLibtorchForEachActivation() {
    for (String act : List.of("quick_gelu", "gelu")) {
      Random random = new Random(act.length());
      ClipConfig config = tiny(act, EOS);
      Random2 towers = randomTowers(config, random);
      int batch = 3;
      float[] pixels = Torch.randn(random, batch * 3 * 16 * 16, 0.8);
      Tensor embeds = towers.vision().embed(cpu.fromHost(pixels, batch, 3, 16, 16));
      assertThat(embeds.shape()).containsExactly(batch, 24);
      assertClose(
          act + " image embeds", cpu.toHost(embeds), towers.reference().imageEmbeds(pixels, batch));
    }
  }

  @Test
  void textEmbeddingsPoolTheEndOfTextTokenAsHuggingFaceDoes() {
    Random random = new Random(7);
    // eos_token_id 49 (the new configs: first position of that id) and 2 (OpenAI's old configs:
    // the position of the largest id).
    for (int eosTokenId : new int[] {EOS, 2}) {
      ClipConfig config = tiny("quick_gelu", eosTokenId);
      Random2 towers = randomTowers(config, random);
      int batch = 4;
      int tokens = 10;
      int[] ids = captions(random, batch, tokens, EOS);
      if (eosTokenId == EOS) {
        ids[tokens - 1] = EOS; // a second end-of-text in caption 0: the first one counts
      }
      Tensor embeds = towers.text().embed(ids, batch, tokens);
      assertClose(
          "eos " + eosTokenId,
          cpu.toHost(embeds),
          towers.reference().textEmbeds(ids, batch, tokens));
      int[] pooled = towers.text().poolPositions(ids, batch, tokens);
      for (int b = 0; b < batch; b++) {
        assertThat(ids[b * tokens + pooled[b]]).isEqualTo(EOS);
      }
    }
  }

  @Test
  void paddingAfterTheEndOfTextDoesNotChangeTheEmbedding() {
    Random random = new Random(11);
    ClipConfig config = tiny("quick_gelu", EOS);
    Random2 towers = randomTowers(config, random);
    int[] caption = {48, 5, 9, 17, EOS};
    int[] padded = {48, 5, 9, 17, EOS, 0, 0, 0, 3, 0};
    float[] alone = cpu.toHost(towers.text().embed(caption, 1, 5));
    float[] withPadding = cpu.toHost(towers.text().embed(padded, 1, 10));
    assertClose("padded", withPadding, alone, 1e-6);
  }

  @Test
  void aHuggingFaceDirectoryLoadsAndItsCosinesMatchLibtorch() throws IOException {
    Random random = new Random(23);
    ClipConfig config = tiny("quick_gelu", EOS);
    Random2 towers = randomTowers(config, random);
    SafetensorsWriter writer = new SafetensorsWriter();
    for (var part : List.of(towers.vision().parameters(), towers.text().parameters())) {
      for (String name : part.names()) {
        writer.add(name, DType.F32, part.value(name));
      }
    }
    writer.add("logit_scale", DType.F32, new int[] {}, new float[] {4.6052f});
    writer.write(dir.resolve("model.safetensors"));
    // config.json as transformers writes it: nested configs, extra fields Tessera does not need.
    Map<String, Object> json = config.toJson();
    json.put("logit_scale_init_value", 2.6592);
    json.put("torch_dtype", "float32");
    Files.writeString(dir.resolve("config.json"), new ObjectMapper().writeValueAsString(json));

    ImageTextModel loaded = ImageTextModel.load(cpu, dir);
    assertThat(loaded).isInstanceOf(ClipModel.class);
    assertThat(loaded.maxTextTokens()).isEqualTo(10);
    assertThat(loaded.padsToMaxLength()).isFalse();
    ClipModel model = (ClipModel) loaded;
    assertThat(model.processor().crop()).isEqualTo(16);
    assertThat(model.logit(0.5)).isCloseTo(0.5 * Math.exp(4.6052), within(1e-3));
    assertThat(model.probability(0.5)).isNaN();

    int batch = 3;
    int tokens = 10;
    float[] pixels = Torch.randn(random, batch * 3 * 16 * 16, 0.8);
    int[] ids = captions(random, batch, tokens, EOS);
    double[] cosines = loaded.cosines(cpu.fromHost(pixels, batch, 3, 16, 16), ids, tokens);
    float[] image = towers.reference().imageEmbeds(pixels, batch);
    float[] caption = towers.reference().textEmbeds(ids, batch, tokens);
    for (int b = 0; b < batch; b++) {
      double dot = 0;
      double ni = 0;
      double nc = 0;
      for (int i = b * 24; i < (b + 1) * 24; i++) {
        dot += image[i] * caption[i];
        ni += image[i] * image[i];
        nc += caption[i] * caption[i];
      }
      assertThat(cosines[b]).isCloseTo(dot / Math.sqrt(ni * nc), within(1e-5));
    }

    // write() gives a directory that loads to the same scores, preprocessing included.
    Path copy = dir.resolve("copy");
    model.write(copy);
    ClipModel again = ClipModel.load(cpu, copy);
    BufferedImage picture = new BufferedImage(40, 24, BufferedImage.TYPE_3BYTE_BGR);
    var graphics = picture.createGraphics();
    graphics.setColor(Color.ORANGE);
    graphics.fillOval(4, 2, 30, 20);
    graphics.dispose();
    List<BufferedImage> pictures = List.of(picture);
    int[] one = Arrays.copyOf(ids, tokens);
    assertThat(again.cosines(again.pixels(cpu, pictures), one, tokens))
        .containsExactly(model.cosines(model.pixels(cpu, pictures), one, tokens));
  }

  @Test
  void badCheckpointsAreRefusedByName() throws IOException {
    assertThatThrownBy(() -> ImageTextModel.load(cpu, dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("no config.json");
    Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"qwen2\"}");
    assertThatThrownBy(() -> ImageTextModel.load(cpu, dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("model_type 'qwen2' is not an image-text model")
        .hasMessageContaining("clip, siglip");
    Files.writeString(
        dir.resolve("config.json"),
        "{\"model_type\": \"clip\", \"vision_config\": {\"hidden_size\": 50}}");
    assertThatThrownBy(() -> ClipModel.load(cpu, dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("invalid CLIP config")
        .hasMessageContaining("vision_config.num_attention_heads");
    Files.writeString(
        dir.resolve("config.json"),
        "{\"model_type\": \"clip\", \"text_config\": {\"hidden_act\": \"relu\"},"
            + " \"vision_config\": {\"num_hidden_layers\": 1}}");
    assertThatThrownBy(() -> new ClipTextTower(cpu, ClipConfig.read(dir.resolve("config.json"))))
        .hasMessageContaining("hidden_act 'relu' is not supported");
  }

  @Test
  void defaultsAreHuggingFacesViTB32() throws IOException {
    ClipConfig config = ClipConfig.parse("{\"model_type\": \"clip\"}", "defaults");
    assertThat(config.vision())
        .isEqualTo(new ClipConfig.Vision(768, 3072, 12, 12, 224, 32, 3, 1e-5, "quick_gelu"));
    assertThat(config.text())
        .isEqualTo(new ClipConfig.Text(49408, 512, 2048, 12, 8, 77, 1e-5, "quick_gelu", 49407));
    assertThat(config.projectionDim()).isEqualTo(512);
    assertThat(config.vision().numPatches()).isEqualTo(49);
    // ViT-B/32: 87.8M vision + 63.2M text parameters (with both projections), as published.
    long vision = dev.tessera.model.config.ModelParameters.clipVision(config, true).count();
    long text = dev.tessera.model.config.ModelParameters.clipText(config).count();
    assertThat(vision).isEqualTo(87_849_216L);
    assertThat(text).isEqualTo(63_428_096L);
  }
}
