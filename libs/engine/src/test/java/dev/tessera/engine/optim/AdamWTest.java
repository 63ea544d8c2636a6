package dev.tessera.engine.optim;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static dev.tessera.engine.oracle.Torch.randn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.oracle.Torch;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.TensorVector;
import org.junit.jupiter.api.Test;

class AdamWTest {
  private static final double BETA1 = 0.8;
  private static final double BETA2 = 0.95;
  private static final double EPS = 1e-6;
  private static final double WD = 0.1;

  private final CpuBackend cpu = CpuBackend.get();

  /** Shapes of the test model: separate tensors and views of one flat buffer. */
  private static final int[][] SHAPES = {{4, 6}, {6}, {2, 3, 5}, {5, 7}, {7}};

  private static int size(int[] shape) {
    int size = 1;
    for (int dim : shape) {
      size *= dim;
    }
    return size;
  }

  private static long[] longShape(int[] shape) {
    long[] out = new long[shape.length];
    for (int i = 0; i < shape.length; i++) {
      out[i] = shape[i];
    }
    return out;
  }

  /**
   * Parameters for {@link #SHAPES} with the given initial values: the first three are separate
   * tensors, the last two views of one flat parameter buffer and one flat gradient buffer.
   */
  private List<AdamW.Param> params(float[][] values) {
    List<AdamW.Param> params = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      params.add(
          new AdamW.Param("p" + i, cpu.fromHost(values[i], SHAPES[i]), cpu.zeros(size(SHAPES[i]))));
    }
    int flatSize = size(SHAPES[3]) + size(SHAPES[4]) + 3;
    Tensor flat = cpu.zeros(flatSize);
    Tensor flatGrad = cpu.zeros(flatSize);
    long at = 3; // views need not start at the buffer's beginning
    for (int i = 3; i < 5; i++) {
      Tensor value = flat.slice(at, SHAPES[i]);
      cpu.copyFromHost(values[i], value);
      params.add(new AdamW.Param("p" + i, value, flatGrad.slice(at, SHAPES[i])));
      at += size(SHAPES[i]);
    }
    return params;
  }

  private static float[][] randomValues(Random random) {
    float[][] values = new float[SHAPES.length][];
    for (int i = 0; i < SHAPES.length; i++) {
      values[i] = randn(random, size(SHAPES[i]), 1.0);
    }
    return values;
  }

  private static double lr(int step) {
    return 1e-2 * (step + 1) / 3.0;
  }

  @Test
  void stepsMatchLibtorchAdamW() {
    Random random = new Random(42);
    float[][] initial = randomValues(random);
    int steps = 6;
    float[][][] grads = new float[steps][SHAPES.length][];
    for (int s = 0; s < steps; s++) {
      for (int i = 0; i < SHAPES.length; i++) {
        grads[s][i] = randn(random, size(SHAPES[i]), 0.5 + s);
      }
    }

    List<AdamW.Param> params = params(initial);
    AdamW adamw = new AdamW(params, BETA1, BETA2, EPS, WD);
    for (int s = 0; s < steps; s++) {
      for (int i = 0; i < SHAPES.length; i++) {
        cpu.copyFromHost(grads[s][i], params.get(i).grad());
      }
      adamw.step(lr(s));
    }
    assertThat(adamw.step()).isEqualTo(steps);

    // libtorch: one AdamW for the matrices (with decay) and one for the vectors (without).
    org.bytedeco.pytorch.Tensor[] tp = new org.bytedeco.pytorch.Tensor[SHAPES.length];
    TensorVector decayed = new TensorVector();
    TensorVector kept = new TensorVector();
    for (int i = 0; i < SHAPES.length; i++) {
      tp[i] = Torch.parameter(initial[i], longShape(SHAPES[i]));
      (SHAPES[i].length >= 2 ? decayed : kept).push_back(tp[i]);
    }
    org.bytedeco.pytorch.AdamW decayOpt = new org.bytedeco.pytorch.AdamW(decayed, options(WD));
    org.bytedeco.pytorch.AdamW keepOpt = new org.bytedeco.pytorch.AdamW(kept, options(0));
    for (int s = 0; s < steps; s++) {
      decayOpt.zero_grad();
      keepOpt.zero_grad();
      for (int i = 0; i < SHAPES.length; i++) {
        // d/dp sum(p * g) = g
        tp[i].mul(Torch.tensor(grads[s][i], longShape(SHAPES[i]))).sum().backward();
      }
      decayOpt.param_groups().get(0).options().set_lr(lr(s));
      keepOpt.param_groups().get(0).options().set_lr(lr(s));
      decayOpt.step();
      keepOpt.step();
    }

    for (int i = 0; i < SHAPES.length; i++) {
      float[] ours = cpu.toHost(params.get(i).value());
      float[] theirs = Torch.values(tp[i]);
      assertClose("p" + i, ours, theirs);
      // The updates themselves, not just the parameters, agree to fp32 tolerance.
      float[] ourDelta = new float[ours.length];
      float[] theirDelta = new float[ours.length];
      for (int j = 0; j < ours.length; j++) {
        ourDelta[j] = ours[j] - initial[i][j];
        theirDelta[j] = theirs[j] - initial[i][j];
      }
      assertClose("update of p" + i, ourDelta, theirDelta, 1e-3);
    }
  }

  private static AdamWOptions options(double weightDecay) {
    AdamWOptions options = new AdamWOptions(1e-3);
    // betas is a std::tuple<double, double>; libstdc++ stores its last element first.
    options.betas().put(0, BETA2).put(1, BETA1);
    options.eps().put(EPS);
    options.weight_decay().put(weightDecay);
    return options;
  }

  @Test
  void vectorsAreNotDecayed() {
    float[][] initial = randomValues(new Random(5));
    List<AdamW.Param> params = params(initial); // gradients stay zero: only decay moves values
    AdamW adamw = new AdamW(params, BETA1, BETA2, EPS, WD);
    double lr = 0.05;
    int steps = 3;
    for (int s = 0; s < steps; s++) {
      adamw.step(lr);
    }
    for (int i = 0; i < SHAPES.length; i++) {
      boolean matrix = SHAPES[i].length >= 2;
      assertThat(adamw.decays("p" + i)).isEqualTo(matrix);
      float[] expected = initial[i].clone();
      if (matrix) {
        for (int j = 0; j < expected.length; j++) {
          for (int s = 0; s < steps; s++) {
            expected[j] *= (float) (1 - lr * WD);
          }
        }
      }
      assertThat(cpu.toHost(params.get(i).value())).as("p" + i).containsExactly(expected);
    }
  }

  @Test
  void resumeFromExportedStateEqualsUninterrupted() {
    Random random = new Random(9);
    float[][] initial = randomValues(random);
    int steps = 5;
    int split = 2;
    float[][][] grads = new float[steps][SHAPES.length][];
    for (int s = 0; s < steps; s++) {
      for (int i = 0; i < SHAPES.length; i++) {
        grads[s][i] = randn(random, size(SHAPES[i]), 1.0);
      }
    }

    List<AdamW.Param> straight = params(initial);
    AdamW a = new AdamW(straight, BETA1, BETA2, EPS, WD);
    for (int s = 0; s < steps; s++) {
      run(a, straight, grads[s], lr(s));
    }

    List<AdamW.Param> first = params(initial);
    AdamW b = new AdamW(first, BETA1, BETA2, EPS, WD);
    for (int s = 0; s < split; s++) {
      run(b, first, grads[s], lr(s));
    }
    AdamW.State saved = b.exportState();
    assertThat(saved.step()).isEqualTo(split);
    assertThat(saved.m()).hasSize(b.stateSize());

    float[][] checkpoint = new float[SHAPES.length][];
    for (int i = 0; i < SHAPES.length; i++) {
      checkpoint[i] = cpu.toHost(first.get(i).value());
    }
    List<AdamW.Param> resumed = params(checkpoint);
    AdamW c = new AdamW(resumed, BETA1, BETA2, EPS, WD);
    c.importState(saved);
    for (int s = split; s < steps; s++) {
      run(c, resumed, grads[s], lr(s));
    }

    assertThat(c.step()).isEqualTo(a.step());
    for (int i = 0; i < SHAPES.length; i++) {
      assertThat(cpu.toHost(resumed.get(i).value()))
          .as("p" + i)
          .containsExactly(cpu.toHost(straight.get(i).value()));
    }
    assertThat(c.exportState().m()).containsExactly(a.exportState().m());
    assertThat(c.exportState().v()).containsExactly(a.exportState().v());
  }

  private void run(AdamW adamw, List<AdamW.Param> params, float[][] grads, double lr) {
    for (int i = 0; i < params.size(); i++) {
      cpu.copyFromHost(grads[i], params.get(i).grad());
    }
    adamw.step(lr);
  }

  @Test
  void aGradScaleInsideTheUpdateEqualsClippingTheGradientsFirst() {
    Random random = new Random(13);
    float[][] initial = randomValues(random);
    float[][] grads = new float[SHAPES.length][];
    for (int i = 0; i < SHAPES.length; i++) {
      grads[i] = randn(random, size(SHAPES[i]), 3.0);
    }
    List<AdamW.Param> clipped = params(initial);
    AdamW a = new AdamW(clipped, BETA1, BETA2, EPS, WD);
    List<AdamW.Param> scaled = params(initial);
    AdamW b = new AdamW(scaled, BETA1, BETA2, EPS, WD);
    for (int step = 0; step < 3; step++) {
      for (int i = 0; i < SHAPES.length; i++) {
        cpu.copyFromHost(grads[i], clipped.get(i).grad());
        cpu.copyFromHost(grads[i], scaled.get(i).grad());
      }
      List<Tensor> clippedGrads = clipped.stream().map(AdamW.Param::grad).toList();
      double norm = GradClip.clip(clippedGrads, 1.0);
      a.step(lr(step));
      float coefficient =
          GradClip.coefficient(
              GradClip.globalNorm(scaled.stream().map(AdamW.Param::grad).toList()), 1.0);
      assertThat(coefficient).isLessThan(1f).isEqualTo((float) (1.0 / (norm + GradClip.EPS)));
      b.step(lr(step), coefficient);
    }
    for (int i = 0; i < SHAPES.length; i++) {
      assertThat(cpu.toHost(scaled.get(i).value()))
          .as("p" + i)
          .containsExactly(cpu.toHost(clipped.get(i).value()));
      // The folded form leaves the gradients unclipped.
      assertThat(cpu.toHost(scaled.get(i).grad())).containsExactly(grads[i]);
    }
    assertThat(b.exportState().v()).containsExactly(a.exportState().v());
  }

  @Test
  void badArgumentsAreNamed() {
    List<AdamW.Param> params = params(randomValues(new Random(1)));
    assertThatThrownBy(() -> new AdamW(params, 1.0, 0.9, 1e-8, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("beta1");
    assertThatThrownBy(() -> new AdamW(params, 0.9, 0.9, 0, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("eps");
    assertThatThrownBy(() -> new AdamW.Param("w", cpu.zeros(2, 3), cpu.zeros(5)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("grad of w");
    Tensor t = cpu.zeros(3);
    assertThatThrownBy(
            () -> new AdamW(List.of(new AdamW.Param("b", t, t), new AdamW.Param("b", t, t))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("duplicate parameter name b");
    AdamW adamw = new AdamW(params);
    assertThatThrownBy(() -> adamw.importState(new AdamW.State(1, new float[3], new float[3])))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("moments");
    assertThatThrownBy(() -> adamw.step(Double.NaN))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("lr");
    assertThatThrownBy(() -> adamw.step(1e-3, 0f))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("gradScale");
  }
}
