package dev.tessera.engine.ops;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static dev.tessera.engine.oracle.Torch.randn;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.oracle.Torch;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AddTest {
  private final CpuBackend cpu = CpuBackend.get();

  @ParameterizedTest(name = "N={0} C={1}")
  @CsvSource({"1,1", "7,33", "19,301"})
  void addAndScaleMatchLibtorch(int n, int c) {
    Random random = new Random(n * 13L + c);
    float[] a = randn(random, n * c, 1.0);
    float[] b = randn(random, n * c, 2.0);
    float[] dy = randn(random, n * c, 1.0);
    float s = 0.37f;

    // y = (a + b) * s, then the residual-style in-place a += y.
    Tensor ta = cpu.fromHost(a, n, c);
    Tensor tb = cpu.fromHost(b, n, c);
    Tensor sum = cpu.zeros(n, c);
    Add.forward(sum, ta, tb);
    Tensor y = cpu.zeros(n, c);
    Scale.forward(y, sum, s);
    Tensor residual = cpu.fromHost(a, n, c);
    Add.accumulate(residual, y);
    Tensor dsum = cpu.zeros(n, c);
    Scale.backward(dsum, cpu.fromHost(dy, n, c), s);
    Tensor da = cpu.zeros(n, c);
    Tensor db = cpu.zeros(n, c);
    Add.backward(da, db, dsum);

    org.bytedeco.pytorch.Tensor pa = Torch.parameter(a, n, c);
    org.bytedeco.pytorch.Tensor pb = Torch.parameter(b, n, c);
    org.bytedeco.pytorch.Tensor py = pa.add(pb).mul(new org.bytedeco.pytorch.Scalar(s));
    py.mul(Torch.tensor(dy, n, c)).sum().backward();

    assertClose("out", cpu.toHost(y), Torch.values(py));
    assertClose("residual", cpu.toHost(residual), Torch.values(py.add(pa)));
    assertClose("da", cpu.toHost(da), Torch.grad(pa));
    assertClose("db", cpu.toHost(db), Torch.grad(pb));
  }

  @Test
  void rejectsMismatchedSizes() {
    assertThatThrownBy(() -> Add.forward(cpu.zeros(3), cpu.zeros(3), cpu.zeros(4)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("b has 4 elements");
  }
}
