package dev.tessera.model.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.DType;
import dev.tessera.model.config.ModelParameters;
import dev.tessera.model.config.ParameterSet;
import dev.tessera.model.config.ParameterSpec;
import dev.tessera.model.config.Qwen2Config;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointValidationTest {
  @TempDir Path dir;
  private final Random random = new Random(13);

  private final Qwen2Config tiny = new Qwen2Config(64, 96, 2, 4, 2, 50, 1e-6, 1e6, true, 128, null);

  private float[] randn(long n) {
    float[] values = new float[(int) n];
    for (int i = 0; i < values.length; i++) {
      values[i] = (float) random.nextGaussian() * 0.02f;
    }
    return values;
  }

  private SafetensorsWriter writerFor(ParameterSet params, String skip) {
    SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
    for (ParameterSpec spec : params.specs()) {
      if (!spec.name().equals(skip)) {
        writer.add(spec.name(), DType.BF16, spec.shape(), randn(spec.count()));
      }
    }
    return writer;
  }

  @Test
  void aCompleteCheckpointPasses() throws IOException {
    ParameterSet params = ModelParameters.qwen2(tiny);
    writerFor(params, "").write(dir.resolve("model.safetensors"));
    CheckpointValidation.require(dir, params, "");
    try (SafetensorsDirectory ckpt = SafetensorsDirectory.open(dir)) {
      CheckpointValidation result = CheckpointValidation.check(ckpt, params, "");
      assertThat(result.valid()).isTrue();
      assertThat(ckpt.names()).hasSize(params.specs().size());
    }
  }

  @Test
  void problemsAreListedByName() throws IOException {
    ParameterSet params = ModelParameters.qwen2(tiny);
    writerFor(params, "model.layers.1.mlp.up_proj.weight")
        .add("model.layers.0.self_attn.o_proj.bias", DType.F32, new int[] {64}, randn(64))
        .write(dir.resolve("model.safetensors"));
    // Overwrite with one tensor mis-shaped: an untied config expects lm_head as well.
    Qwen2Config untied = new Qwen2Config(64, 96, 2, 4, 2, 50, 1e-6, 1e6, false, 128, null);
    ParameterSet expected = ModelParameters.qwen2(untied);
    try (SafetensorsDirectory ckpt = SafetensorsDirectory.open(dir)) {
      CheckpointValidation result = CheckpointValidation.check(ckpt, expected, "");
      assertThat(result.missing())
          .containsExactly("model.layers.1.mlp.up_proj.weight", "lm_head.weight");
      assertThat(result.unexpected()).containsExactly("model.layers.0.self_attn.o_proj.bias");
      assertThat(result.misshaped()).isEmpty();
      assertThat(CheckpointValidation.check(ckpt, expected, "lm_").unexpected()).isEmpty();
    }
    assertThatThrownBy(() -> CheckpointValidation.require(dir, expected, ""))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("2 missing")
        .hasMessageContaining("lm_head.weight")
        .hasMessageContaining("1 unexpected");
  }

  @Test
  void wrongShapesAreReported() throws IOException {
    ParameterSet params = ModelParameters.qwen2(tiny);
    // A checkpoint of a model with 4 KV heads, checked against the 2-KV-head config.
    Qwen2Config wider = new Qwen2Config(64, 96, 2, 4, 4, 50, 1e-6, 1e6, true, 128, null);
    writerFor(ModelParameters.qwen2(wider), "").write(dir.resolve("model.safetensors"));
    try (SafetensorsDirectory ckpt = SafetensorsDirectory.open(dir)) {
      CheckpointValidation result = CheckpointValidation.check(ckpt, params, "");
      assertThat(result.missing()).isEmpty();
      assertThat(result.misshaped())
          .hasSize(2 * 4)
          .contains("model.layers.0.self_attn.k_proj.weight: [64, 64] expected [32, 64]");
      assertThat(result.describe("qwen2")).contains("8 wrong shape");
    }
  }
}
