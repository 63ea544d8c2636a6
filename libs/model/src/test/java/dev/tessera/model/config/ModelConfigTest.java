package dev.tessera.model.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ModelConfigTest {

  private static Path resource(String name) throws URISyntaxException {
    return Path.of(ModelConfigTest.class.getResource("/configs/" + name + "/config.json").toURI());
  }

  @Test
  void qwen25Instruct15B() throws Exception {
    Qwen2Config config = Qwen2Config.read(resource("qwen2.5-1.5b-instruct"));
    assertThat(config)
        .isEqualTo(
            new Qwen2Config(1536, 8960, 28, 12, 2, 151936, 1e-6, 1e6, true, 32768, "bfloat16"));
    assertThat(config.headDim()).isEqualTo(128);
    assertThat(config.kvDim()).isEqualTo(256);

    ParameterSet params = ModelParameters.qwen2(config);
    long embed = 151936L * 1536;
    long layer =
        (1536L * 1536 + 1536) // q
            + 2 * (256L * 1536 + 256) // k, v
            + 1536L * 1536 // o
            + 3L * 1536 * 8960 // gate, up, down
            + 2 * 1536; // norms
    assertThat(layer).isEqualTo(46_797_824L);
    assertThat(params.count()).isEqualTo(embed + 28 * layer + 1536).isEqualTo(1_543_714_304L);
    assertThat(params.countByComponent())
        .containsEntry("embed_tokens", 233_373_696L)
        .containsEntry("layers", 1_310_339_072L)
        .containsEntry("norm", 1536L)
        .doesNotContainKey("lm_head");
    assertThat(params.byName()).hasSize(1 + 28 * 12 + 1);
    assertThat(params.get("model.layers.27.self_attn.k_proj.weight").shape())
        .containsExactly(256, 1536);
    assertThat(params.get("model.layers.0.mlp.down_proj.weight").shape())
        .containsExactly(1536, 8960);
    assertThat(params.get("model.layers.0.self_attn.o_proj.bias")).isNull();
    assertThat(params.get("lm_head.weight")).isNull();
  }

  @Test
  void untiedQwenHasAnLmHead() throws IOException {
    Qwen2Config config =
        Qwen2Config.parse(
            "{\"hidden_size\": 64, \"intermediate_size\": 160, \"num_hidden_layers\": 2,"
                + " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": 100}",
            "tiny");
    assertThat(config.tieWordEmbeddings()).isFalse();
    assertThat(config.ropeTheta()).isEqualTo(10000.0);
    assertThat(config.torchDtype()).isNull();
    ParameterSet params = ModelParameters.qwen2(config);
    assertThat(params.get("lm_head.weight").shape()).containsExactly(100, 64);
    long layer = (64 * 64 + 64) + 2 * (32 * 64 + 32) + 64 * 64 + 3 * 64 * 160 + 2 * 64;
    assertThat(params.count()).isEqualTo(2 * 100 * 64 + 2 * layer + 64);
  }

  @Test
  void qwenDefaultsFollowHuggingFace() throws IOException {
    Qwen2Config config = Qwen2Config.parse("{\"model_type\": \"qwen2\"}", "defaults");
    assertThat(config.hiddenSize()).isEqualTo(4096);
    assertThat(config.intermediateSize()).isEqualTo(22016);
    assertThat(config.numHiddenLayers()).isEqualTo(32);
    assertThat(config.numKeyValueHeads()).isEqualTo(32);
    assertThat(config.maxPositionEmbeddings()).isEqualTo(32768);
  }

  @Test
  void invalidQwenConfigs() {
    assertThatThrownBy(
            () -> Qwen2Config.parse("{\"hidden_size\": 100, \"num_attention_heads\": 3}", "x.json"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("x.json")
        .hasMessageContaining("num_attention_heads 3 does not divide hidden_size 100");
    assertThatThrownBy(
            () ->
                Qwen2Config.parse(
                    "{\"hidden_size\": 96, \"num_attention_heads\": 12,"
                        + " \"num_key_value_heads\": 5}",
                    "kv.json"))
        .hasMessageContaining("num_key_value_heads 5 does not divide num_attention_heads 12");
    assertThatThrownBy(() -> Qwen2Config.parse("{\"vocab_size\": 0}", "v.json"))
        .hasMessageContaining("vocab_size must be positive");
    assertThatThrownBy(() -> Qwen2Config.parse("{\"hidden_size\": \"big\"}", "s.json"))
        .hasMessageContaining("hidden_size is not an int");
    assertThatThrownBy(() -> Qwen2Config.parse("{\"model_type\": \"llama\"}", "l.json"))
        .hasMessageContaining("not 'qwen2'");
    assertThatThrownBy(() -> Qwen2Config.parse("{\"hidden_size\": ", "broken.json"))
        .hasMessageContaining("broken.json: not valid JSON");
    assertThatThrownBy(() -> Qwen2Config.read(Path.of("/nonexistent/config.json")))
        .hasMessageContaining("no such config file");
  }

  @Test
  void siglipSo400mVisionTower() throws Exception {
    SiglipVisionConfig config = SiglipVisionConfig.read(resource("siglip-so400m-patch14-384"));
    assertThat(config)
        .isEqualTo(
            new SiglipVisionConfig(
                1152, 4304, 27, 16, 384, 14, 3, 1e-6, "gelu_pytorch_tanh", true));
    assertThat(config.numPatches()).isEqualTo(729);
    assertThat(config.headDim()).isEqualTo(72);

    long h = 1152;
    long i = 4304;
    long embeddings = h * 3 * 14 * 14 + h + 729 * h;
    long layer = 4 * h + 4 * (h * h + h) + (i * h + i) + (h * i + h);
    long head = h + (3 * h * h + 3 * h) + (h * h + h) + 2 * h + (i * h + i) + (h * i + h);
    ParameterSet withHead = ModelParameters.siglipVision(config);
    ParameterSet withoutHead = ModelParameters.siglipVision(config.withHead(false));
    assertThat(withoutHead.count())
        .isEqualTo(embeddings + 27 * layer + 2 * h)
        .isEqualTo(412_987_248L);
    assertThat(withHead.count()).isEqualTo(withoutHead.count() + head).isEqualTo(428_225_600L);
    // The published figure: SoViT-400m's vision tower, ~428M parameters with its MAP head.
    assertThat(withHead.count() / 1e6).isBetween(427.5, 428.5);
    assertThat(withHead.countByComponent())
        .containsEntry("embeddings", 1_518_336L)
        .containsEntry("encoder", 411_466_608L)
        .containsEntry("post_layernorm", 2304L)
        .containsEntry("head", 15_238_352L);
    assertThat(withHead.get("vision_model.embeddings.patch_embedding.weight").shape())
        .containsExactly(1152, 3, 14, 14);
    assertThat(withHead.get("vision_model.head.attention.in_proj_weight").shape())
        .containsExactly(3456, 1152);
    assertThat(withHead.get("vision_model.head.probe").shape()).containsExactly(1, 1, 1152);
    assertThat(withoutHead.get("vision_model.head.probe")).isNull();
  }

  @Test
  void siglipVisionOnlyConfigAndDefaults() throws IOException {
    SiglipVisionConfig config =
        SiglipVisionConfig.parse(
            "{\"model_type\": \"siglip_vision_model\", \"hidden_size\": 64,"
                + " \"intermediate_size\": 128, \"num_hidden_layers\": 2,"
                + " \"num_attention_heads\": 4, \"image_size\": 32, \"patch_size\": 8,"
                + " \"vision_use_head\": false, \"hidden_act\": \"gelu\"}",
            "tiny");
    assertThat(config.numPatches()).isEqualTo(16);
    assertThat(config.useHead()).isFalse();
    assertThat(config.hiddenAct()).isEqualTo("gelu");
    long layer = 4 * 64 + 4 * (64 * 64 + 64) + (128 * 64 + 128) + (64 * 128 + 64);
    assertThat(ModelParameters.siglipVision(config).count())
        .isEqualTo(64 * 3 * 8 * 8 + 64 + 16 * 64 + 2 * layer + 2 * 64);

    SiglipVisionConfig defaults =
        SiglipVisionConfig.parse("{\"model_type\": \"siglip\", \"vision_config\": {}}", "d");
    assertThat(defaults)
        .isEqualTo(
            new SiglipVisionConfig(768, 3072, 12, 12, 224, 16, 3, 1e-6, "gelu_pytorch_tanh", true));
  }

  @Test
  void invalidSiglipConfigs() {
    assertThatThrownBy(() -> SiglipVisionConfig.parse("{\"model_type\": \"siglip\"}", "s.json"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("s.json")
        .hasMessageContaining("without a vision_config");
    assertThatThrownBy(
            () ->
                SiglipVisionConfig.parse(
                    "{\"hidden_size\": 100, \"num_attention_heads\": 16}", "h.json"))
        .hasMessageContaining("does not divide hidden_size 100");
    assertThatThrownBy(() -> SiglipVisionConfig.parse("{\"patch_size\": 0}", "p.json"))
        .hasMessageContaining("patch_size must be positive");
    assertThatThrownBy(() -> SiglipVisionConfig.parse("{\"model_type\": \"clip\"}", "c.json"))
        .hasMessageContaining("not 'siglip' or 'siglip_vision_model'");
  }
}
