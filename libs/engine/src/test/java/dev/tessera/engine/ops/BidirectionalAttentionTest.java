package dev.tessera.engine.ops;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static dev.tessera.engine.oracle.Torch.randn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.engine.oracle.Torch;
import java.util.Random;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class BidirectionalAttentionTest {
  private final CpuBackend cpu = CpuBackend.get();

  private float[] run(float[] q, float[] k, float[] v, int b, int t, int hq, int hkv, int d) {
    Tensor out = cpu.zeros(b, t, hq, d);
    BidirectionalAttention.forward(
        out,
        cpu.fromHost(q, b, t, hq, d),
        cpu.fromHost(k, b, t, hkv, d),
        cpu.fromHost(v, b, t, hkv, d));
    return cpu.toHost(out);
  }

  @ParameterizedTest(name = "B={0} T={1} Hq={2} Hkv={3} D={4}")
  @CsvSource({"2, 16, 4, 4, 12", "1, 75, 3, 3, 16", "2, 37, 4, 2, 24", "1, 1, 2, 2, 8"})
  void forwardMatchesLibtorch(int b, int t, int hq, int hkv, int d) {
    Random random = new Random(b * 131L + t * 31L + hq * 7L + hkv + d);
    float[] q = randn(random, b * t * hq * d, 1.5);
    float[] k = randn(random, b * t * hkv * d, 1.5);
    float[] v = randn(random, b * t * hkv * d, 1.0);
    float[] out = run(q, k, v, b, t, hq, hkv, d);

    LongOptional headAxis = new LongOptional(1);
    org.bytedeco.pytorch.Tensor qh = Torch.tensor(q, b, t, hq, d).permute(0, 2, 1, 3);
    org.bytedeco.pytorch.Tensor kh =
        Torch.tensor(k, b, t, hkv, d)
            .permute(0, 2, 1, 3)
            .repeat_interleave(hq / hkv, headAxis, new LongOptional());
    org.bytedeco.pytorch.Tensor vh =
        Torch.tensor(v, b, t, hkv, d)
            .permute(0, 2, 1, 3)
            .repeat_interleave(hq / hkv, headAxis, new LongOptional());
    org.bytedeco.pytorch.Tensor scores =
        torch.matmul(qh, kh.transpose(-2, -1)).mul(new Scalar(1.0 / Math.sqrt(d)));
    org.bytedeco.pytorch.Tensor y =
        torch
            .matmul(torch.softmax(scores, -1, new ScalarTypeOptional()), vh)
            .permute(0, 2, 1, 3)
            .contiguous();
    assertClose("out", out, Torch.values(y));
  }

  @Test
  void largeScoresStayFinite() {
    Random random = new Random(5);
    int t = 10;
    float[] q = randn(random, t * 8, 40.0);
    float[] k = randn(random, t * 8, 40.0);
    float[] v = randn(random, t * 8, 1.0);
    for (float x : run(q, k, v, 1, t, 1, 1, 8)) {
      assertThat(Float.isFinite(x)).isTrue();
    }
  }

  @Test
  void resultsDoNotDependOnThreadCount() {
    int threads = Parallel.threads();
    try {
      Random random = new Random(3);
      float[] q = randn(random, 2 * 70 * 4 * 16, 1.0);
      float[] k = randn(random, 2 * 70 * 4 * 16, 1.0);
      float[] v = randn(random, 2 * 70 * 4 * 16, 1.0);
      Parallel.setThreads(1);
      float[] one = run(q, k, v, 2, 70, 4, 4, 16);
      Parallel.setThreads(2);
      float[] two = run(q, k, v, 2, 70, 4, 4, 16);
      assertThat(two).isEqualTo(one);
    } finally {
      Parallel.setThreads(threads);
    }
  }

  @Test
  void shapesAreChecked() {
    Tensor q = cpu.zeros(1, 4, 3, 8);
    Tensor kv = cpu.zeros(1, 4, 2, 8);
    assertThatThrownBy(() -> BidirectionalAttention.forward(cpu.zeros(1, 4, 3, 8), q, kv, kv))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("multiple of k/v heads");
    Tensor k = cpu.zeros(1, 4, 3, 8);
    assertThatThrownBy(() -> BidirectionalAttention.forward(cpu.zeros(1, 4, 3, 7), q, k, k))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("out");
    assertThatThrownBy(
            () ->
                BidirectionalAttention.forward(cpu.zeros(1, 4, 3, 8), q, k, cpu.zeros(1, 5, 3, 8)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("v");
    assertThatThrownBy(() -> BidirectionalAttention.forward(q, cpu.zeros(4, 3, 8), k, k))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("q has shape");
  }
}
