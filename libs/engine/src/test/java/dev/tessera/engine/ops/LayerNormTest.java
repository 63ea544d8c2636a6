package dev.tessera.engine.ops;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static dev.tessera.engine.oracle.Torch.randn;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.engine.oracle.Torch;
import java.util.Random;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class LayerNormTest {
  private final CpuBackend cpu = CpuBackend.get();

  @ParameterizedTest(name = "N={0} C={1}")
  @CsvSource({"7,64", "33,100", "5,1152"})
  void forwardAndBackwardMatchLibtorch(int n, int c) {
    Random random = new Random(n * 31L + c);
    float[] x = randn(random, n * c, 1.5);
    for (int i = 0; i < x.length; i++) {
      x[i] += 0.7f; // a non-zero mean, so the centring matters
    }
    float[] w = randn(random, c, 1.0);
    float[] b = randn(random, c, 1.0);
    float[] dy = randn(random, n * c, 1.0);
    float eps = 1e-6f;

    Tensor inp = cpu.fromHost(x, n, c);
    Tensor weight = cpu.fromHost(w, c);
    Tensor bias = cpu.fromHost(b, c);
    Tensor out = cpu.zeros(n, c);
    Tensor mean = cpu.zeros(n);
    Tensor rstd = cpu.zeros(n);
    LayerNorm.forward(out, mean, rstd, inp, weight, bias, eps);
    Tensor dinp = cpu.zeros(n, c);
    Tensor dweight = cpu.zeros(c);
    Tensor dbias = cpu.zeros(c);
    LayerNorm.backward(dinp, dweight, dbias, cpu.fromHost(dy, n, c), inp, weight, mean, rstd);

    org.bytedeco.pytorch.Tensor tx = Torch.parameter(x, n, c);
    org.bytedeco.pytorch.Tensor tw = Torch.parameter(w, c);
    org.bytedeco.pytorch.Tensor tb = Torch.parameter(b, c);
    org.bytedeco.pytorch.Tensor ty =
        torch.layer_norm(
            tx, new long[] {c}, new TensorOptional(tw), new TensorOptional(tb), eps, false);
    ty.mul(Torch.tensor(dy, n, c)).sum().backward();

    assertClose("out", cpu.toHost(out), Torch.values(ty));
    assertClose("dinp", cpu.toHost(dinp), Torch.grad(tx));
    assertClose("dweight", cpu.toHost(dweight), Torch.grad(tw));
    assertClose("dbias", cpu.toHost(dbias), Torch.grad(tb));
  }

  @Test
  void isIndependentOfThreadCount() {
    int n = 64;
    int c = 515;
    Random random = new Random(9);
    Tensor inp = cpu.fromHost(randn(random, n * c, 2.0), n, c);
    Tensor weight = cpu.fromHost(randn(random, c, 1.0), c);
    Tensor bias = cpu.fromHost(randn(random, c, 1.0), c);
    Tensor dout = cpu.fromHost(randn(random, n * c, 1.0), n, c);
    int threads = Parallel.threads();
    try {
      float[][] one = run(1, n, c, inp, weight, bias, dout);
      float[][] two = run(2, n, c, inp, weight, bias, dout);
      for (int i = 0; i < one.length; i++) {
        assertThat(two[i]).containsExactly(one[i]);
      }
    } finally {
      Parallel.setThreads(threads);
    }
  }

  private float[][] run(
      int threads, int n, int c, Tensor inp, Tensor weight, Tensor bias, Tensor dout) {
    Parallel.setThreads(threads);
    Tensor out = cpu.zeros(n, c);
    Tensor mean = cpu.zeros(n);
    Tensor rstd = cpu.zeros(n);
    LayerNorm.forward(out, mean, rstd, inp, weight, bias, 1e-6f);
    Tensor dinp = cpu.zeros(n, c);
    Tensor dweight = cpu.zeros(c);
    Tensor dbias = cpu.zeros(c);
    LayerNorm.backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd);
    return new float[][] {
      cpu.toHost(out), cpu.toHost(dinp), cpu.toHost(dweight), cpu.toHost(dbias)
    };
  }
}
