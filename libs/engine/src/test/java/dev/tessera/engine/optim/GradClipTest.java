package dev.tessera.engine.optim;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static dev.tessera.engine.oracle.Torch.randn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.engine.oracle.Torch;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class GradClipTest {
  private final CpuBackend cpu = CpuBackend.get();

  /** Sizes that cross {@link GradClip#CHUNK} boundaries. */
  private static final int[] SIZES = {7, 300, GradClip.CHUNK + 5, 2 * GradClip.CHUNK};

  private static float[][] randomGrads(Random random) {
    float[][] grads = new float[SIZES.length][];
    for (int i = 0; i < SIZES.length; i++) {
      grads[i] = randn(random, SIZES[i], 0.1 * (i + 1));
    }
    return grads;
  }

  private List<Tensor> tensors(float[][] grads) {
    List<Tensor> tensors = new ArrayList<>();
    for (float[] g : grads) {
      tensors.add(cpu.fromHost(g, g.length));
    }
    return tensors;
  }

  @ParameterizedTest(name = "maxNorm={0}")
  @ValueSource(doubles = {1.0, 1e6})
  void matchesLibtorchClipGradNorm(double maxNorm) {
    float[][] grads = randomGrads(new Random(17));
    List<Tensor> ours = tensors(grads);
    double norm = GradClip.clip(ours, maxNorm);

    TensorVector params = new TensorVector();
    org.bytedeco.pytorch.Tensor[] tp = new org.bytedeco.pytorch.Tensor[grads.length];
    for (int i = 0; i < grads.length; i++) {
      tp[i] = Torch.parameter(randn(new Random(i), SIZES[i], 1.0), SIZES[i]);
      tp[i].mul(Torch.tensor(grads[i], SIZES[i])).sum().backward(); // grad = grads[i]
      params.push_back(tp[i]);
    }
    double torchNorm = torch.clip_grad_norm_(params, maxNorm, 2.0, false);

    assertThat(norm).isCloseTo(torchNorm, within(1e-5 * torchNorm));
    for (int i = 0; i < grads.length; i++) {
      assertClose("grad " + i, cpu.toHost(ours.get(i)), Torch.grad(tp[i]));
    }
    if (maxNorm > norm) {
      for (int i = 0; i < grads.length; i++) {
        assertThat(cpu.toHost(ours.get(i))).containsExactly(grads[i]);
      }
    } else {
      assertThat(GradClip.globalNorm(ours)).isCloseTo(maxNorm, within(1e-5));
    }
  }

  @Test
  void normIsIndependentOfThreadCount() {
    float[][] grads = randomGrads(new Random(3));
    int threads = Parallel.threads();
    try {
      Parallel.setThreads(1);
      double one = GradClip.globalNorm(tensors(grads));
      Parallel.setThreads(3);
      double three = GradClip.globalNorm(tensors(grads));
      assertThat(three).isEqualTo(one);
    } finally {
      Parallel.setThreads(threads);
    }
  }

  @Test
  void normOfViewsMatchesDoubleSum() {
    float[] flat = randn(new Random(4), 1000, 2.0);
    Tensor buffer = cpu.fromHost(flat, 1000);
    List<Tensor> views = List.of(buffer.slice(0, 10, 30), buffer.slice(300, 700));
    double expected = 0;
    for (float x : flat) {
      expected += (double) x * x;
    }
    assertThat(GradClip.globalNorm(views)).isCloseTo(Math.sqrt(expected), within(1e-9));
  }

  @Test
  void nonFiniteNormLeavesGradientsAlone() {
    float[] g = {1f, Float.NaN, 3f};
    List<Tensor> grads = List.of(cpu.fromHost(g, 3));
    assertThat(GradClip.clip(grads, 1.0)).isNaN();
    assertThat(cpu.toHost(grads.get(0))).containsExactly(g);
    assertThatThrownBy(() -> GradClip.clip(grads, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxNorm");
  }
}
