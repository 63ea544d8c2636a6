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
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AdaptiveAvgPool2dTest {
  private final CpuBackend cpu = CpuBackend.get();

  @ParameterizedTest(name = "B={0} {1}x{2} -> {3}x{4}, C={5}")
  @CsvSource({
    "2,27,27,12,12,5", // SigLIP-SO400M at 384 to 144 tokens: overlapping bins
    "1,27,27,27,27,3", // identity
    "3,7,5,3,2,17",
    "1,9,9,4,4,33"
  })
  void forwardAndBackwardMatchLibtorch(int b, int h, int w, int oh, int ow, int c) {
    Random random = new Random(b * 1000L + h * 100L + oh * 10L + c);
    float[] x = randn(random, b * h * w * c, 1.0);
    float[] dy = randn(random, b * oh * ow * c, 1.0);

    Tensor inp = cpu.fromHost(x, b, h * w, c);
    Tensor out = cpu.zeros(b, oh * ow, c);
    AdaptiveAvgPool2d.forward(out, inp, h, w, oh, ow);
    Tensor dinp = cpu.zeros(b, h * w, c);
    AdaptiveAvgPool2d.backward(dinp, cpu.fromHost(dy, b, oh * ow, c), h, w, oh, ow);

    org.bytedeco.pytorch.Tensor tx = Torch.parameter(x, b, h * w, c);
    org.bytedeco.pytorch.Tensor ty =
        torch
            .adaptive_avg_pool2d(tx.reshape(b, h, w, c).permute(0, 3, 1, 2), oh, ow)
            .permute(0, 2, 3, 1)
            .reshape(b, (long) oh * ow, c);
    ty.mul(Torch.tensor(dy, b, (long) oh * ow, c)).sum().backward();

    assertClose("out", cpu.toHost(out), Torch.values(ty));
    assertClose("dinp", cpu.toHost(dinp), Torch.grad(tx));
  }

  @Test
  void binsOverlapLikePytorch() {
    // 27 -> 12: bin 0 is rows [0, 3), bin 1 is [2, 5).
    assertThat(AdaptiveAvgPool2d.start(1, 27, 12)).isEqualTo(2);
    assertThat(AdaptiveAvgPool2d.end(0, 27, 12)).isEqualTo(3);
    assertThat(AdaptiveAvgPool2d.end(11, 27, 12)).isEqualTo(27);
  }

  @Test
  void isIndependentOfThreadCount() {
    int b = 3;
    int c = 40;
    Random random = new Random(1);
    Tensor inp = cpu.fromHost(randn(random, b * 27 * 27 * c, 1.0), b, 27 * 27, c);
    Tensor dout = cpu.fromHost(randn(random, b * 144 * c, 1.0), b, 144, c);
    int threads = Parallel.threads();
    try {
      Parallel.setThreads(1);
      Tensor out1 = cpu.zeros(b, 144, c);
      Tensor dinp1 = cpu.zeros(b, 27 * 27, c);
      AdaptiveAvgPool2d.forward(out1, inp, 27, 27, 12, 12);
      AdaptiveAvgPool2d.backward(dinp1, dout, 27, 27, 12, 12);
      Parallel.setThreads(2);
      Tensor out2 = cpu.zeros(b, 144, c);
      Tensor dinp2 = cpu.zeros(b, 27 * 27, c);
      AdaptiveAvgPool2d.forward(out2, inp, 27, 27, 12, 12);
      AdaptiveAvgPool2d.backward(dinp2, dout, 27, 27, 12, 12);
      assertThat(cpu.toHost(out2)).containsExactly(cpu.toHost(out1));
      assertThat(cpu.toHost(dinp2)).containsExactly(cpu.toHost(dinp1));
    } finally {
      Parallel.setThreads(threads);
    }
  }

  @Test
  void rejectsMismatchedGrids() {
    Tensor inp = cpu.zeros(1, 25, 3);
    assertThatThrownBy(() -> AdaptiveAvgPool2d.forward(cpu.zeros(1, 4, 3), inp, 4, 4, 2, 2))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("inp must be [B, 16, C]");
    assertThatThrownBy(() -> AdaptiveAvgPool2d.forward(cpu.zeros(1, 4, 3), inp, 5, 5, 3, 3))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("out has shape");
  }
}
