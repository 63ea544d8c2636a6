package dev.tessera.engine.ops;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static dev.tessera.engine.oracle.Torch.randn;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.oracle.Torch;
import java.util.Random;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RmsNormTest {
  private final CpuBackend cpu = CpuBackend.get();

  @ParameterizedTest(name = "N={0} C={1}")
  @CsvSource({"7,64", "33,100", "5,1536"})
  void forwardAndBackwardMatchLibtorch(int n, int c) {
    Random random = new Random(n * 31L + c);
    float[] x = randn(random, n * c, 1.5);
    float[] w = randn(random, c, 1.0);
    float[] dy = randn(random, n * c, 1.0);
    float eps = 1e-6f;

    Tensor inp = cpu.fromHost(x, n, c);
    Tensor weight = cpu.fromHost(w, c);
    Tensor out = cpu.zeros(n, c);
    Tensor rstd = cpu.zeros(n);
    RmsNorm.forward(out, rstd, inp, weight, eps);
    Tensor dinp = cpu.zeros(n, c);
    Tensor dweight = cpu.zeros(c);
    RmsNorm.backward(dinp, dweight, cpu.fromHost(dy, n, c), inp, weight, rstd);

    org.bytedeco.pytorch.Tensor tx = Torch.parameter(x, n, c);
    org.bytedeco.pytorch.Tensor tw = Torch.parameter(w, c);
    org.bytedeco.pytorch.Tensor ty =
        torch.rms_norm(tx, new long[] {c}, new TensorOptional(tw), new DoubleOptional(eps));
    ty.mul(Torch.tensor(dy, n, c)).sum().backward();

    assertClose("out", cpu.toHost(out), Torch.values(ty));
    assertClose("dinp", cpu.toHost(dinp), Torch.grad(tx));
    assertClose("dweight", cpu.toHost(dweight), Torch.grad(tw));
  }
}
