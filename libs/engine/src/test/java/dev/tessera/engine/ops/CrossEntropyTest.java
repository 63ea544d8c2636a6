package dev.tessera.engine.ops;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static dev.tessera.engine.oracle.Torch.randn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.oracle.Torch;
import java.util.Arrays;
import java.util.Random;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CrossEntropyTest {
  private static final long MEAN = 1; // at::Reduction::Mean
  private static final long SUM = 2; // at::Reduction::Sum

  private final CpuBackend cpu = CpuBackend.get();

  /** Random targets with about a quarter of them ignored (at least one kept). */
  private static int[] targets(Random random, int n, int v) {
    int[] targets = new int[n];
    for (int i = 0; i < n; i++) {
      targets[i] = random.nextInt(4) == 0 ? CrossEntropy.IGNORE_INDEX : random.nextInt(v);
    }
    targets[n / 2] = random.nextInt(v);
    return targets;
  }

  private static long[] longs(int[] values) {
    return Arrays.stream(values).asLongStream().toArray();
  }

  @ParameterizedTest(name = "N={0} V={1}")
  @CsvSource({"9,17", "16,300", "5,2000"})
  void meanLossAndGradientMatchLibtorch(int n, int v) {
    Random random = new Random(n * 131L + v);
    float[] x = randn(random, n * v, 3.0);
    int[] t = targets(random, n, v);
    long valid = CrossEntropy.countValid(t);

    Tensor dlogits = cpu.zeros(n, v);
    double sum =
        CrossEntropy.forwardBackward(dlogits, cpu.fromHost(x, n, v), t, (float) (1.0 / valid));

    org.bytedeco.pytorch.Tensor tx = Torch.parameter(x, n, v);
    org.bytedeco.pytorch.Tensor tt = Torch.longs(longs(t), n);
    org.bytedeco.pytorch.Tensor mean =
        torch.cross_entropy_loss(tx, tt, new TensorOptional(), MEAN, -100, 0.0);
    mean.backward();
    org.bytedeco.pytorch.Tensor total =
        torch.cross_entropy_loss(tx.detach(), tt, new TensorOptional(), SUM, -100, 0.0);

    assertClose("mean loss", new float[] {(float) (sum / valid)}, Torch.values(mean));
    assertClose("summed loss", new float[] {(float) sum}, Torch.values(total));
    assertClose("dlogits", cpu.toHost(dlogits), Torch.grad(tx));
  }

  @Test
  void chunksWithTheGlobalScaleAddUpToOneChunk() {
    int n = 23;
    int v = 41;
    Random random = new Random(7);
    float[] x = randn(random, n * v, 2.0);
    int[] t = targets(random, n, v);
    float scale = (float) (1.0 / CrossEntropy.countValid(t));

    Tensor whole = cpu.zeros(n, v);
    double wholeLoss = CrossEntropy.forwardBackward(whole, cpu.fromHost(x, n, v), t, scale);

    Tensor logits = cpu.fromHost(x, n, v);
    Tensor chunked = cpu.zeros(n, v);
    double chunkedLoss = 0;
    int[] bounds = {0, 5, 6, 17, 23};
    for (int c = 0; c + 1 < bounds.length; c++) {
      int rows = bounds[c + 1] - bounds[c];
      long at = (long) bounds[c] * v;
      chunkedLoss +=
          CrossEntropy.forwardBackward(
              chunked.slice(at, rows, v), logits.slice(at, rows, v), t, bounds[c], scale);
    }
    assertThat(chunkedLoss * scale).isCloseTo(wholeLoss * scale, within(1e-9));
    assertThat(cpu.toHost(chunked)).containsExactly(cpu.toHost(whole));
  }

  @Test
  void inPlaceGradientEqualsSeparateBuffer() {
    int n = 6;
    int v = 33;
    Random random = new Random(3);
    float[] x = randn(random, n * v, 2.0);
    int[] t = targets(random, n, v);
    Tensor separate = cpu.zeros(n, v);
    double a = CrossEntropy.forwardBackward(separate, cpu.fromHost(x, n, v), t, 0.25f);
    Tensor inPlace = cpu.fromHost(x, n, v);
    double b = CrossEntropy.forwardBackward(inPlace, inPlace, t, 0.25f);
    assertThat(b).isEqualTo(a);
    assertThat(cpu.toHost(inPlace)).containsExactly(cpu.toHost(separate));
  }

  @Test
  void ignoredRowsGetZeroGradientAndNoLoss() {
    int n = 4;
    int v = 10;
    Random random = new Random(11);
    float[] x = randn(random, n * v, 1.0);
    int[] t = {3, CrossEntropy.IGNORE_INDEX, 9, CrossEntropy.IGNORE_INDEX};
    Tensor dlogits = cpu.fromHost(randn(random, n * v, 1.0), n, v); // stale values are overwritten
    double loss = CrossEntropy.forwardBackward(dlogits, cpu.fromHost(x, n, v), t, 1f);
    float[] d = cpu.toHost(dlogits);
    for (int row : new int[] {1, 3}) {
      assertThat(Arrays.copyOfRange(d, row * v, row * v + v)).containsOnly(0f);
    }
    double expected = 0;
    for (int row : new int[] {0, 2}) {
      double sum = 0;
      for (int i = 0; i < v; i++) {
        sum += Math.exp(x[row * v + i]);
      }
      expected += Math.log(sum) - x[row * v + t[row]];
    }
    assertThat(loss).isCloseTo(expected, within(1e-5));
  }

  @Test
  void allIgnoredChunkGivesZeroLossAndZeroGradient() {
    int n = 3;
    int v = 8;
    int[] t = new int[n];
    Arrays.fill(t, CrossEntropy.IGNORE_INDEX);
    Tensor dlogits = cpu.fromHost(randn(new Random(1), n * v, 1.0), n, v);
    double loss =
        CrossEntropy.forwardBackward(
            dlogits, cpu.fromHost(randn(new Random(2), n * v, 1.0), n, v), t, 0.5f);
    assertThat(loss).isZero();
    assertThat(cpu.toHost(dlogits)).containsOnly(0f);
    assertThat(CrossEntropy.countValid(t)).isZero();
  }

  @Test
  void largeLogitsStayFinite() {
    int v = 5;
    float[] x = {1000f, 999f, -1000f, 0f, 1000f};
    Tensor dlogits = cpu.zeros(1, v);
    double loss = CrossEntropy.forwardBackward(dlogits, cpu.fromHost(x, 1, v), new int[] {1}, 1f);
    double lse = 1000 + Math.log(2 + Math.exp(-1));
    // exp is evaluated in float (relative error ~1e-7), summed in double.
    assertThat(loss).isCloseTo(lse - 999, within(1e-7));
    assertThat(cpu.toHost(dlogits)).doesNotContain(Float.NaN);
  }

  @Test
  void badArgumentsAreNamed() {
    Tensor logits = cpu.zeros(2, 5);
    assertThatThrownBy(() -> CrossEntropy.forwardBackward(logits, logits, new int[] {0, 5}, 1f))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("targets[1] = 5")
        .hasMessageContaining("[0, 5)");
    assertThatThrownBy(() -> CrossEntropy.forwardBackward(logits, logits, new int[] {-1, 0}, 1f))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("targets[0] = -1");
    assertThatThrownBy(() -> CrossEntropy.forwardBackward(logits, logits, new int[] {0}, 1f))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("targets");
    assertThatThrownBy(
            () -> CrossEntropy.forwardBackward(cpu.zeros(2, 4), logits, new int[] {0, 1}, 1f))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("dlogits");
  }
}
