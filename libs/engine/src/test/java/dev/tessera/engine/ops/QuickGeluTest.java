package dev.tessera.engine.ops;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static dev.tessera.engine.oracle.Torch.randn;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.oracle.Torch;
import java.util.Random;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

class QuickGeluTest {
  private final CpuBackend cpu = CpuBackend.get();

  @Test
  void forwardAndBackwardMatchLibtorchQuickGelu() {
    Random random = new Random(5);
    int n = 1237;
    float[] x = randn(random, n, 2.5);
    float[] dy = randn(random, n, 1.0);
    Tensor inp = cpu.fromHost(x, n);
    Tensor out = cpu.zeros(n);
    QuickGelu.forward(out, inp);
    Tensor dinp = cpu.fromHost(randn(random, n, 1.0), n);
    float[] before = cpu.toHost(dinp);
    QuickGelu.backward(dinp, cpu.fromHost(dy, n), inp);

    org.bytedeco.pytorch.Tensor tx = Torch.parameter(x, n);
    org.bytedeco.pytorch.Tensor ty = tx.mul(torch.sigmoid(tx.mul(new Scalar(1.702))));
    ty.mul(Torch.tensor(dy, n)).sum().backward();

    assertClose("out", cpu.toHost(out), Torch.values(ty));
    float[] accumulated = cpu.toHost(dinp);
    float[] grad = new float[n];
    for (int i = 0; i < n; i++) {
      grad[i] = accumulated[i] - before[i];
    }
    assertClose("dinp", grad, Torch.grad(tx));
  }
}
