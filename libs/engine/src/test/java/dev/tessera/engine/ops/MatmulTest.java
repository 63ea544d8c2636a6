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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MatmulTest {
  private final CpuBackend cpu = CpuBackend.get();

  @ParameterizedTest(name = "N={0} C={1} OC={2} bias={3}")
  @CsvSource({"1,7,33,true", "7,1,5,true", "33,100,129,false", "100,129,33,true"})
  void forwardAndBackwardMatchLibtorch(int n, int c, int oc, boolean withBias) {
    Random random = new Random(n * 31L + c * 7L + oc);
    float[] x = randn(random, n * c, 1.0);
    float[] w = randn(random, oc * c, 0.5);
    float[] b = randn(random, oc, 1.0);
    float[] dy = randn(random, n * oc, 1.0);
    // Gradients start non-zero: backward must add to them.
    float[] dx0 = randn(random, n * c, 1.0);
    float[] dw0 = randn(random, oc * c, 1.0);
    float[] db0 = randn(random, oc, 1.0);

    Tensor inp = cpu.fromHost(x, n, c);
    Tensor weight = cpu.fromHost(w, oc, c);
    Tensor bias = withBias ? cpu.fromHost(b, oc) : null;
    Tensor out = cpu.fromHost(randn(random, n * oc, 1.0), n, oc);
    Matmul.forward(out, inp, weight, bias);
    Tensor dinp = cpu.fromHost(dx0, n, c);
    Tensor dweight = cpu.fromHost(dw0, oc, c);
    Tensor dbias = withBias ? cpu.fromHost(db0, oc) : null;
    Matmul.backward(dinp, dweight, dbias, cpu.fromHost(dy, n, oc), inp, weight);

    org.bytedeco.pytorch.Tensor tx = Torch.parameter(x, n, c);
    org.bytedeco.pytorch.Tensor tw = Torch.parameter(w, oc, c);
    org.bytedeco.pytorch.Tensor tb = Torch.parameter(b, oc);
    org.bytedeco.pytorch.Tensor ty = tx.matmul(tw.t());
    if (withBias) {
      ty = ty.add(tb);
    }
    ty.mul(Torch.tensor(dy, n, oc)).sum().backward();

    assertClose("out", cpu.toHost(out), Torch.values(ty));
    assertClose("dinp", cpu.toHost(dinp), plus(dx0, Torch.grad(tx)));
    assertClose("dweight", cpu.toHost(dweight), plus(dw0, Torch.grad(tw)));
    if (withBias) {
      assertClose("dbias", cpu.toHost(dbias), plus(db0, Torch.grad(tb)));
    }
  }

  @Test
  void overwritingDinpIgnoresWhatItHeld() {
    int n = 9;
    int c = 37;
    int oc = 23;
    Random random = new Random(23);
    Tensor inp = cpu.fromHost(randn(random, n * c, 1.0), n, c);
    Tensor weight = cpu.fromHost(randn(random, oc * c, 0.2), oc, c);
    Tensor dout = cpu.fromHost(randn(random, n * oc, 1.0), n, oc);
    Tensor accumulated = cpu.zeros(n, c);
    Matmul.backward(accumulated, null, null, dout, inp, weight);
    float[] poison = new float[n * c];
    java.util.Arrays.fill(poison, Float.NaN);
    Tensor overwritten = cpu.fromHost(poison, n, c);
    Matmul.backward(overwritten, null, null, dout, inp, weight, false);
    assertThat(cpu.toHost(overwritten)).containsExactly(cpu.toHost(accumulated));
  }

  @Test
  void nullGradientsAreSkippedAndThreadCountDoesNotMatter() {
    int n = 70;
    int c = 48;
    int oc = 150;
    Random random = new Random(3);
    Tensor inp = cpu.fromHost(randn(random, n * c, 1.0), n, c);
    Tensor weight = cpu.fromHost(randn(random, oc * c, 1.0), oc, c);
    Tensor bias = cpu.fromHost(randn(random, oc, 1.0), oc);
    Tensor dout = cpu.fromHost(randn(random, n * oc, 1.0), n, oc);
    int threads = Parallel.threads();
    float[][] results = new float[2][];
    try {
      for (int t = 1; t <= 2; t++) {
        Parallel.setThreads(t);
        Tensor out = cpu.zeros(n, oc);
        Tensor dweight = cpu.zeros(oc, c);
        Tensor dbias = cpu.zeros(oc);
        Matmul.forward(out, inp, weight, bias);
        Matmul.backward(null, dweight, dbias, dout, inp, weight);
        Tensor dinp = cpu.zeros(n, c);
        Matmul.backward(dinp, null, null, dout, inp, weight);
        results[t - 1] =
            concat(cpu.toHost(out), cpu.toHost(dweight), cpu.toHost(dbias), cpu.toHost(dinp));
      }
    } finally {
      Parallel.setThreads(threads);
    }
    assertThat(results[1]).isEqualTo(results[0]);
  }

  @Test
  void rejectsMismatchedShapes() {
    Tensor inp = cpu.zeros(4, 3);
    Tensor weight = cpu.zeros(5, 3);
    assertThatThrownBy(() -> Matmul.forward(cpu.zeros(4, 4), inp, weight, null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("out");
    assertThatThrownBy(() -> Matmul.forward(cpu.zeros(4, 5), inp, weight, cpu.zeros(4)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("bias");
    assertThatThrownBy(() -> Matmul.forward(cpu.zeros(4, 5), cpu.zeros(4, 2), weight, null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("inp");
  }

  private static float[] plus(float[] a, float[] b) {
    float[] out = new float[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i] + b[i];
    }
    return out;
  }

  private static float[] concat(float[]... parts) {
    int total = 0;
    for (float[] part : parts) {
      total += part.length;
    }
    float[] out = new float[total];
    int at = 0;
    for (float[] part : parts) {
      System.arraycopy(part, 0, out, at, part.length);
      at += part.length;
    }
    return out;
  }
}
