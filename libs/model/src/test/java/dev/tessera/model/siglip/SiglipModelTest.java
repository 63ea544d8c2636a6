package dev.tessera.model.siglip;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.DType;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.oracle.Torch;
import dev.tessera.model.config.SiglipTextConfig;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.io.SafetensorsWriter;
import dev.tessera.model.oracle.TorchSiglip;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A SigLIP directory as Hugging Face lays it out, loaded and scored against libtorch. */
class SiglipModelTest {
  private final CpuBackend cpu = CpuBackend.get();
  @TempDir Path dir;

  @Test
  void aHuggingFaceDirectoryLoadsAndItsCosinesMatchLibtorch() throws IOException {
    SiglipVisionConfig vision =
        new SiglipVisionConfig(48, 64, 2, 4, 16, 8, 3, 1e-6, "gelu_pytorch_tanh", true);
    SiglipTextConfig text =
        new SiglipTextConfig(40, 48, 64, 2, 4, 12, 1e-6, "gelu_pytorch_tanh", 48);
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("model_type", "siglip");
    config.put("vision_config", vision.toJson());
    Map<String, Object> textJson = new LinkedHashMap<>();
    textJson.put("vocab_size", 40);
    textJson.put("hidden_size", 48);
    textJson.put("intermediate_size", 64);
    textJson.put("num_hidden_layers", 2);
    textJson.put("num_attention_heads", 4);
    textJson.put("max_position_embeddings", 12);
    config.put("text_config", textJson);
    Files.writeString(dir.resolve("config.json"), new ObjectMapper().writeValueAsString(config));

    Random random = new Random(23);
    SafetensorsWriter writer = new SafetensorsWriter();
    SiglipVisionTower visionShape = new SiglipVisionTower(cpu, vision);
    SiglipTextTower textShape = new SiglipTextTower(cpu, text);
    TorchSiglip.Weights visionWeights = TorchSiglip.randomize(visionShape.parameters(), random);
    TorchSiglip.Weights textWeights = TorchSiglip.randomize(textShape.parameters(), random);
    for (TorchSiglip.Weights part : List.of(visionWeights, textWeights)) {
      part.values()
          .forEach(
              (name, values) ->
                  writer.add(
                      name,
                      DType.F32,
                      Arrays.stream(part.shapes().get(name)).mapToInt(x -> (int) x).toArray(),
                      values));
    }
    writer.add("logit_scale", DType.F32, new int[] {1}, new float[] {2.3f});
    writer.add("logit_bias", DType.F32, new int[] {1}, new float[] {-10f});
    writer.write(dir.resolve("model.safetensors"));

    SiglipModel model = SiglipModel.load(cpu, dir);
    int batch = 2;
    int tokens = 12;
    float[] pixels = Torch.randn(random, batch * 3 * 16 * 16, 0.6);
    int[] ids = new int[batch * tokens];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = random.nextInt(40);
    }
    double[] cosines = model.cosines(cpu.fromHost(pixels, batch, 3, 16, 16), ids, tokens);

    TorchSiglip reference =
        new TorchSiglip(
            new TorchSiglip.Shape(3, 16, 8, 48, 4, 2, 1e-6), visionWeights, textWeights);
    float[] image = reference.pooled(pixels, batch);
    float[] caption = reference.textEmbedding(ids, batch, tokens, 2);
    for (int b = 0; b < batch; b++) {
      double dot = 0;
      double ni = 0;
      double nc = 0;
      for (int i = b * 48; i < (b + 1) * 48; i++) {
        dot += image[i] * caption[i];
        ni += image[i] * image[i];
        nc += caption[i] * caption[i];
      }
      assertThat(cosines[b]).isCloseTo(dot / Math.sqrt(ni * nc), within(1e-5));
      assertThat(model.probability(cosines[b]))
          .isCloseTo(1 / (1 + Math.exp(-(cosines[b] * Math.exp(2.3) - 10))), within(1e-6));
    }
  }

  @Test
  void aDirectoryWithoutConfigIsRefusedByName() {
    assertThatThrownBy(() -> SiglipModel.load(cpu, dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("no config.json");
  }
}
