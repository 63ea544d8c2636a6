package dev.tessera.engine.ops;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static dev.tessera.engine.oracle.Torch.randn;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.oracle.Torch;
import java.util.Random;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SoftmaxTest {
  private final CpuBackend cpu = CpuBackend.get();

  @ParameterizedTest(name = "N={0} C={1}")
  @CsvSource({"1,1", "7,33", "19,301"})
  void forwardAndBackwardMatchLibtorch(int n, int c) {
    Random random = new Random(n * 11L + c);
    float[] x = randn(random, n * c, 3.0);
    x[0] += 80f; // large logits must not overflow
    float[] dy = randn(random, n * c, 1.0);

    Tensor inp = cpu.fromHost(x, n, c);
    Tensor out = cpu.zeros(n, c);
    Softmax.forward(out, inp);
    Tensor dinp = cpu.zeros(n, c);
    Softmax.backward(dinp, cpu.fromHost(dy, n, c), out);

    org.bytedeco.pytorch.Tensor tx = Torch.parameter(x, n, c);
    org.bytedeco.pytorch.Tensor ty = torch.softmax(tx, -1);
    ty.mul(Torch.tensor(dy, n, c)).sum().backward();

    assertClose("out", cpu.toHost(out), Torch.values(ty));
    if (c > 1) { // a single-class softmax has zero gradient
      assertClose("dinp", cpu.toHost(dinp), Torch.grad(tx));
    }
  }
}
