package dev.tessera.trainer;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.model.clip.ClipTextTower;
import dev.tessera.model.clip.ClipVisionTower;
import dev.tessera.model.config.ClipConfig;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipTextConfig;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.qwen2.Qwen2Decoder;
import dev.tessera.model.siglip.SiglipTextTower;
import dev.tessera.model.siglip.SiglipVisionTower;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * The curation scorers' model code on a device backend against the CPU, on small random models:
 * CLIP's towers (image and text embeddings, a vision hidden state), SigLIP's (pooled image and text
 * embeddings), and the Qwen2 decoder's prompt prefill and continuation tree ({@code prefill},
 * {@code extend}) — every op of {@code clipScore} and {@code mlmFilter} through the device's
 * kernels. {@code gpu-check} runs it on the GPU.
 */
final class InferenceCheck {
  /** Relative error allowed between fp32 device results and the CPU's. */
  static final double TOLERANCE = 1e-4;

  /** One compared output. */
  record Result(String name, double relativeError) {
    boolean passed() {
      return relativeError <= TOLERANCE;
    }

    @Override
    public String toString() {
      return String.format(
          Locale.ROOT,
          "%-34s rel err %.2e %s",
          name,
          relativeError,
          passed() ? "ok" : "FAILED (tolerance " + TOLERANCE + ")");
    }
  }

  private final Backend device;
  private final long seed;
  private final List<Result> results = new ArrayList<>();

  InferenceCheck(Backend device, long seed) {
    this.device = device;
    this.seed = seed;
  }

  List<Result> runAll() {
    clip();
    siglip();
    decoder();
    return List.copyOf(results);
  }

  /** Runs {@code output} on the CPU and on the device with the same inputs; records the error. */
  private void compare(String name, Function<Backend, Tensor> output) {
    float[] expected = CpuBackend.get().toHost(output.apply(CpuBackend.get()));
    Tensor actual = output.apply(device);
    float[] got = device.toHost(actual);
    device.release(actual);
    results.add(new Result(name, relativeError(got, expected)));
  }

  private void clip() {
    ClipConfig config =
        new ClipConfig(
            new ClipConfig.Vision(64, 128, 2, 4, 32, 8, 3, 1e-5, "quick_gelu"),
            new ClipConfig.Text(100, 48, 96, 2, 4, 16, 1e-5, "gelu", 99),
            32);
    float[] pixels = random(2 * 3 * 32 * 32, seed);
    int[] ids = {98, 5, 17, 40, 99, 0, 0, 0, 98, 7, 66, 12, 31, 8, 2, 99};
    compare(
        "clip image embeddings",
        backend -> {
          ClipVisionTower tower = new ClipVisionTower(backend, config);
          tower.parameters().initialise(seed + 1, 0.2);
          return tower.embed(backend.fromHost(pixels, 2, 3, 32, 32));
        });
    compare(
        "clip vision hidden state [-2]",
        backend -> {
          ClipVisionTower tower = new ClipVisionTower(backend, config);
          tower.parameters().initialise(seed + 1, 0.2);
          return tower.hiddenState(backend.fromHost(pixels, 2, 3, 32, 32), 1);
        });
    compare(
        "clip text embeddings (causal)",
        backend -> {
          ClipTextTower tower = new ClipTextTower(backend, config);
          tower.parameters().initialise(seed + 2, 0.2);
          return tower.embed(ids, 2, 8);
        });
  }

  private void siglip() {
    SiglipVisionConfig vision =
        new SiglipVisionConfig(64, 128, 2, 4, 32, 8, 3, 1e-6, "gelu_pytorch_tanh", true);
    SiglipTextConfig text =
        new SiglipTextConfig(100, 48, 96, 2, 4, 8, 1e-6, "gelu_pytorch_tanh", 64);
    float[] pixels = random(2 * 3 * 32 * 32, seed + 3);
    int[] ids = {5, 17, 40, 1, 0, 0, 0, 0, 7, 66, 12, 31, 8, 2, 1, 0};
    compare(
        "siglip pooled image embeddings",
        backend -> {
          SiglipVisionTower tower = new SiglipVisionTower(backend, vision);
          tower.parameters().initialise(seed + 4, 0.2);
          return tower.pooled(backend.fromHost(pixels, 2, 3, 32, 32));
        });
    compare(
        "siglip text embeddings",
        backend -> {
          SiglipTextTower tower = new SiglipTextTower(backend, text);
          tower.parameters().initialise(seed + 5, 0.2);
          return tower.embed(ids, 2, 8);
        });
  }

  private void decoder() {
    Qwen2Config config = new Qwen2Config(64, 128, 2, 4, 2, 300, 1e-6, 1e6, true, 128, "float32");
    int tokens = 24;
    int[] lengths = {24, 17};
    SplittableRandom random = new SplittableRandom(seed + 6);
    int[] ids = new int[2 * tokens];
    int[] positions = new int[2 * tokens];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = random.nextInt(300);
      positions[i] = i % tokens;
    }
    Qwen2Batch batch =
        new Qwen2Batch(
            2,
            tokens,
            ids,
            positions,
            new int[2 * tokens],
            AttentionMask.CONTINUOUS,
            null,
            null,
            null);
    // Row 0: two first tokens and one after the first; row 1: a chain of two.
    int[] rows = {0, 0, 0, 1, 1};
    int[] next = {11, 12, 13, 14, 15};
    int[] parents = {-1, -1, 0, -1, 3};
    compare(
        "qwen2 prompt prefill",
        backend -> {
          Qwen2Decoder decoder = new Qwen2Decoder(backend, config, false);
          decoder.parameters().initialise(seed + 7, 0.2);
          return decoder.prefill(batch, lengths).lastLogits();
        });
    compare(
        "qwen2 continuation tree",
        backend -> {
          Qwen2Decoder decoder = new Qwen2Decoder(backend, config, false);
          decoder.parameters().initialise(seed + 7, 0.2);
          return decoder.extend(decoder.prefill(batch, lengths), rows, next, parents);
        });
  }

  private static float[] random(int n, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = (float) (random.nextDouble() * 2 - 1);
    }
    return values;
  }

  /** max |a - b| / max |b|. */
  static double relativeError(float[] actual, float[] expected) {
    if (actual.length != expected.length) {
      return Double.POSITIVE_INFINITY;
    }
    double scale = 0;
    double worst = 0;
    for (int i = 0; i < expected.length; i++) {
      scale = Math.max(scale, Math.abs(expected[i]));
      worst = Math.max(worst, Math.abs((double) actual[i] - expected[i]));
    }
    return scale == 0 ? worst : worst / scale;
  }
}
