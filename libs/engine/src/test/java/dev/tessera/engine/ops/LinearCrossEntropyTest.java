package dev.tessera.engine.ops;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static dev.tessera.engine.oracle.Torch.randn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.engine.oracle.Torch;
import java.util.Arrays;
import java.util.Random;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class LinearCrossEntropyTest {
  private static final long SUM = 2; // at::Reduction::Sum

  private final CpuBackend cpu = CpuBackend.get();

  /** Random targets, about a fifth ignored; one target in the vocabulary's last entry. */
  private static int[] targets(Random random, int n, int v) {
    int[] targets = new int[n];
    for (int i = 0; i < n; i++) {
      targets[i] = random.nextInt(5) == 0 ? CrossEntropy.IGNORE_INDEX : random.nextInt(v);
    }
    targets[0] = v - 1;
    return targets;
  }

  /** Random inputs [n, h], weights [v, h] and targets. */
  private record Problem(int n, int h, int v, float[] x, float[] w, int[] t) {
    static Problem random(Random random, int n, int h, int v) {
      return new Problem(
          n, h, v, randn(random, n * h, 1.0), randn(random, v * h, 0.5), targets(random, n, v));
    }

    /** Runs the op on fresh tensors of the inputs; returns the loss. */
    double run(CpuBackend cpu, Tensor dx, Tensor dw, float scale, boolean accumulate) {
      return LinearCrossEntropy.forwardBackward(
          dx, dw, cpu.fromHost(x, n, h), cpu.fromHost(w, v, h), t, scale, accumulate);
    }
  }

  // Vocabularies of one block, of many blocks with a short last one, and of more blocks than
  // groups.
  @ParameterizedTest(name = "N={0} H={1} V={2}")
  @CsvSource({"7,16,40", "33,64,5000", "300,24,9001", "5,128,70000"})
  void lossAndGradientsMatchLibtorch(int n, int h, int v) {
    Random random = new Random(n * 31L + h * 7L + v);
    Problem p = Problem.random(random, n, h, v);
    float[] dwStart = randn(random, v * h, 0.1);
    float scale = 1f / Math.max(1, CrossEntropy.countValid(p.t()));

    Tensor dx = cpu.fromHost(randn(random, n * h, 1.0), n, h); // written, not added to
    Tensor dw = cpu.fromHost(dwStart, v, h); // added to
    double loss = p.run(cpu, dx, dw, scale, false);

    org.bytedeco.pytorch.Tensor tx = Torch.parameter(p.x(), n, h);
    org.bytedeco.pytorch.Tensor tw = Torch.parameter(p.w(), v, h);
    org.bytedeco.pytorch.Tensor logits = torch.matmul(tx, tw.t());
    org.bytedeco.pytorch.Tensor tt = Torch.longs(Arrays.stream(p.t()).asLongStream().toArray(), n);
    org.bytedeco.pytorch.Tensor sum =
        torch.cross_entropy_loss(logits, tt, new TensorOptional(), SUM, -100, 0.0);
    sum.backward();

    float[] expectedDw = Torch.grad(tw);
    for (int i = 0; i < expectedDw.length; i++) {
      expectedDw[i] = dwStart[i] + expectedDw[i] * scale;
    }
    float[] expectedDx = Torch.grad(tx);
    for (int i = 0; i < expectedDx.length; i++) {
      expectedDx[i] *= scale;
    }
    assertClose("summed loss", new float[] {(float) loss}, Torch.values(sum));
    // The forward alone gives the very same value.
    assertThat(
            LinearCrossEntropy.forward(cpu.fromHost(p.x(), n, h), cpu.fromHost(p.w(), v, h), p.t()))
        .isEqualTo(loss);
    assertClose("dinput", cpu.toHost(dx), expectedDx);
    assertClose("dweight", cpu.toHost(dw), expectedDw);
  }

  @Test
  void sameBitsForAnyThreadCount() {
    int n = 40;
    int h = 32;
    int v = 30000;
    Problem p = Problem.random(new Random(5), n, h, v);
    float[][] results = new float[2][];
    double[] losses = new double[2];
    int[] threads = {1, 2};
    int before = Parallel.threads();
    try {
      for (int i = 0; i < 2; i++) {
        Parallel.setThreads(threads[i]);
        Tensor dx = cpu.zeros(n, h);
        Tensor dw = cpu.zeros(v, h);
        losses[i] = p.run(cpu, dx, dw, 0.01f, false);
        float[] both = Arrays.copyOf(cpu.toHost(dx), n * h + v * h);
        System.arraycopy(cpu.toHost(dw), 0, both, n * h, v * h);
        results[i] = both;
      }
    } finally {
      Parallel.setThreads(before);
    }
    assertThat(losses[1]).isEqualTo(losses[0]);
    assertThat(results[1]).isEqualTo(results[0]);
  }

  @Test
  void accumulatingAddsTheInputGradientToWhatIsThere() {
    Random random = new Random(9);
    int n = 12;
    int h = 8;
    int v = 3000;
    Problem p = Problem.random(random, n, h, v);
    float[] before = randn(random, n * h, 1.0);
    Tensor written = cpu.zeros(n, h);
    p.run(cpu, written, cpu.zeros(v, h), 0.1f, false);
    Tensor added = cpu.fromHost(before, n, h);
    p.run(cpu, added, cpu.zeros(v, h), 0.1f, true);
    float[] expected = cpu.toHost(written);
    for (int i = 0; i < expected.length; i++) {
      expected[i] += before[i];
    }
    assertThat(cpu.toHost(added)).containsExactly(expected);
  }

  @Test
  void anAllIgnoredBatchHasNoLossAndZeroInputGradient() {
    Tensor dx = cpu.fromHost(new float[] {1, 2, 3, 4}, 2, 2);
    Tensor dw = cpu.fromHost(new float[] {5, 6, 7, 8, 9, 10}, 3, 2);
    double loss =
        LinearCrossEntropy.forwardBackward(
            dx,
            dw,
            cpu.fromHost(new float[] {0.1f, 0.2f, 0.3f, 0.4f}, 2, 2),
            cpu.fromHost(new float[] {1, 2, 3, 4, 5, 6}, 3, 2),
            new int[] {CrossEntropy.IGNORE_INDEX, CrossEntropy.IGNORE_INDEX},
            1f,
            false);
    assertThat(loss).isZero();
    assertThat(cpu.toHost(dx)).containsOnly(0f);
    assertThat(cpu.toHost(dw)).containsExactly(5, 6, 7, 8, 9, 10);
  }

  @Test
  void badArgumentsAreNamed() {
    Tensor x = cpu.zeros(2, 4);
    Tensor w = cpu.zeros(10, 4);
    assertThatThrownBy(
            () ->
                LinearCrossEntropy.forwardBackward(
                    cpu.zeros(2, 4), cpu.zeros(10, 4), x, cpu.zeros(10, 3), new int[2], 1f, false))
        .hasMessageContaining("input must be [N, H] and weight [V, H]");
    assertThatThrownBy(
            () ->
                LinearCrossEntropy.forwardBackward(
                    cpu.zeros(2, 4), cpu.zeros(10, 4), x, w, new int[] {0, 10}, 1f, false))
        .hasMessageContaining("targets[1] = 10 is outside [0, 10)");
    assertThatThrownBy(
            () ->
                LinearCrossEntropy.forwardBackward(
                    cpu.zeros(2, 4), cpu.zeros(10, 4), x, w, new int[3], 1f, true))
        .hasMessageContaining("targets has 3 entries for 2 rows");
  }

  @Test
  void theFusedRouteIsTakenWithWideVectorsOrWhenAskedFor() {
    assertThat(LinearCrossEntropy.fusedRoute("auto", 512)).isTrue();
    assertThat(LinearCrossEntropy.fusedRoute("auto", 256)).isFalse();
    assertThat(LinearCrossEntropy.fusedRoute("auto", 0)).as("no Vector API").isFalse();
    assertThat(LinearCrossEntropy.fusedRoute("on", 256)).isTrue();
    assertThat(LinearCrossEntropy.fusedRoute("off", 512)).isFalse();
    assertThatThrownBy(() -> LinearCrossEntropy.fusedRoute("yes", 512))
        .hasMessageContaining("-Dtessera.fusedClassifierLoss=yes: expected auto, on or off");
  }

  @Test
  void narrowCpuInputsTakeTheFusedRouteWhereItIsOn() {
    LinearCrossEntropy.withRoute(
        true,
        () -> {
          assertThat(LinearCrossEntropy.pays(cpu.zeros(3, 64))).isTrue();
          assertThat(LinearCrossEntropy.pays(cpu.zeros(3, LinearCrossEntropy.MAX_FUSED_WIDTH + 1)))
              .isFalse();
          assertThat(
                  LinearCrossEntropy.withRoute(
                      false, () -> LinearCrossEntropy.pays(cpu.zeros(3, 64))))
              .isFalse();
          return assertThat(LinearCrossEntropy.pays(cpu.zeros(3, 64)))
              .as("the outer route back")
              .isTrue();
        });
    assertThat(LinearCrossEntropy.pays(cpu.zeros(3, 64)))
        .as("this CPU's choice")
        .isEqualTo(LinearCrossEntropy.fusedRoute("auto", dev.tessera.engine.cpu.Vec.BITS));
  }
}
