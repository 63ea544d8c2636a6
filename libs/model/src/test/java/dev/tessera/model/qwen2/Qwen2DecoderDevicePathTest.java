package dev.tessera.model.qwen2;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.engine.optim.AdamW;
import dev.tessera.engine.testing.CheckingDeviceBackend;
import dev.tessera.model.config.Qwen2Config;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The decoder through the device path (every op handed to a backend's kernels, temporaries released
 * as soon as they are dead), without a GPU: a backend that computes with the CPU kernels but fails
 * on any use of a released tensor must give exactly the CPU backend's loss, gradients and updated
 * weights, and must get most of the step's memory back.
 */
class Qwen2DecoderDevicePathTest {
  private static Qwen2Batch batch(Qwen2Config config, int rows, int tokens) {
    Random random = new Random(3);
    int n = rows * tokens;
    int[] ids = new int[n];
    int[] targets = new int[n];
    int[] positions = new int[n];
    int[][] starts = {{0, 6, 11}, {0, 9}};
    for (int i = 0; i < n; i++) {
      ids[i] = random.nextInt(config.vocabSize());
      targets[i] = random.nextInt(6) == 0 ? -100 : random.nextInt(config.vocabSize());
    }
    for (int b = 0; b < rows; b++) {
      for (int t = 0; t < tokens; t++) {
        int start = 0;
        for (int s : starts[b]) {
          if (s <= t) {
            start = s;
          }
        }
        positions[b * tokens + t] = t - start;
      }
    }
    return new Qwen2Batch(
        rows, tokens, ids, positions, targets, AttentionMask.DOCUMENT, starts, null, null);
  }

  private record Outcome(double loss, List<float[]> grads, List<float[]> weights) {}

  private static Outcome train(Backend backend, boolean checkpointing, Qwen2Config config) {
    Qwen2Decoder decoder = new Qwen2Decoder(backend, config, checkpointing);
    decoder.parameters().initialise(5, 0.2);
    List<AdamW.Param> params = new ArrayList<>();
    for (String name : decoder.parameters().names()) {
      params.add(
          new AdamW.Param(name, decoder.parameters().value(name), decoder.parameters().grad(name)));
    }
    AdamW optimizer = new AdamW(params);
    double loss = 0;
    List<float[]> grads = new ArrayList<>();
    for (int step = 0; step < 2; step++) {
      decoder.parameters().zeroGrads();
      loss = decoder.forwardBackward(batch(config, 2, 17), null);
      if (step == 0) {
        for (AdamW.Param param : params) {
          grads.add(backend.toHost(param.grad()));
        }
      }
      optimizer.step(1e-2);
    }
    List<float[]> weights = new ArrayList<>();
    for (AdamW.Param param : params) {
      weights.add(backend.toHost(param.value()));
    }
    return new Outcome(loss, grads, weights);
  }

  @ParameterizedTest(name = "checkpointing={0}")
  @ValueSource(booleans = {false, true})
  void theDevicePathMatchesTheCpuExactlyAndReleasesItsTemporaries(boolean checkpointing) {
    // 300 tokens of vocabulary and 34 positions: two loss chunks are not needed to show the point.
    Qwen2Config config = new Qwen2Config(32, 48, 3, 4, 2, 300, 1e-6, 10000.0, true, 64, "float32");
    Outcome cpu = train(CpuBackend.get(), checkpointing, config);
    CheckingDeviceBackend device = new CheckingDeviceBackend();
    Outcome onDevice = train(device, checkpointing, config);

    assertThat(onDevice.loss()).isEqualTo(cpu.loss());
    for (int i = 0; i < cpu.grads().size(); i++) {
      assertThat(onDevice.grads().get(i)).containsExactly(cpu.grads().get(i));
      assertThat(onDevice.weights().get(i)).containsExactly(cpu.weights().get(i));
    }
    // Parameters, gradients and moments stay; nearly all the rest was released.
    long kept = 4L * 4 * countParameters(device, config);
    assertThat(device.releasedBytes())
        .isGreaterThan((long) ((device.allocatedBytes() - kept) * 0.9));
  }

  private static long countParameters(Backend backend, Qwen2Config config) {
    long count = 0;
    for (Tensor value :
        new Qwen2Decoder(CpuBackend.get(), config, false).parameters().values().values()) {
      count += value.size();
    }
    return count;
  }
}
