package dev.tessera.model.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** Configurations written as Hugging Face config.json read back as the same configurations. */
class ConfigJsonRoundTripTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void qwen2ConfigRoundTrips() throws IOException {
    Qwen2Config config =
        new Qwen2Config(1536, 8960, 28, 12, 2, 151936, 1e-6, 1000000.0, true, 32768, "bfloat16");
    String json = JSON.writeValueAsString(config.toJson());
    assertThat(Qwen2Config.parse(json, "test")).isEqualTo(config);
    assertThat(json).contains("\"model_type\":\"qwen2\"").contains("Qwen2ForCausalLM");
  }

  @Test
  void siglipConfigRoundTrips() throws IOException {
    SiglipVisionConfig config =
        new SiglipVisionConfig(1152, 4304, 27, 16, 384, 14, 3, 1e-6, "gelu_pytorch_tanh", false);
    String json = JSON.writeValueAsString(config.toJson());
    assertThat(SiglipVisionConfig.parse(json, "test")).isEqualTo(config);
    assertThat(json).contains("\"model_type\":\"siglip_vision_model\"");
  }
}
