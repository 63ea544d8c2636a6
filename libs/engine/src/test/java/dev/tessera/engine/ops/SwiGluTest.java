package dev.tessera.engine.ops;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static dev.tessera.engine.oracle.Torch.randn;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.engine.oracle.Torch;
import java.util.Random;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SwiGluTest {
  private final CpuBackend cpu = CpuBackend.get();

  @ParameterizedTest(name = "N={0} F={1}")
  @CsvSource({"1,17", "13,99", "31,277"})
  void forwardAndBackwardMatchLibtorch(int n, int f) {
    Random random = new Random(n * 3L + f);
    float[] g = randn(random, n * f, 2.0);
    float[] u = randn(random, n * f, 1.0);
    float[] dy = randn(random, n * f, 1.0);

    Tensor gate = cpu.fromHost(g, n, f);
    Tensor up = cpu.fromHost(u, n, f);
    Tensor out = cpu.zeros(n, f);
    SwiGlu.forward(out, gate, up);
    Tensor dgate = cpu.zeros(n, f);
    Tensor dup = cpu.zeros(n, f);
    SwiGlu.backward(dgate, dup, cpu.fromHost(dy, n, f), gate, up);

    org.bytedeco.pytorch.Tensor tg = Torch.parameter(g, n, f);
    org.bytedeco.pytorch.Tensor tu = Torch.parameter(u, n, f);
    org.bytedeco.pytorch.Tensor ty = torch.silu(tg).mul(tu);
    ty.mul(Torch.tensor(dy, n, f)).sum().backward();

    assertClose("out", cpu.toHost(out), Torch.values(ty));
    assertClose("dgate", cpu.toHost(dgate), Torch.grad(tg));
    assertClose("dup", cpu.toHost(dup), Torch.grad(tu));
  }

  @Test
  void overwritingIgnoresWhatTheGradientsHeld() {
    int n = 7;
    int f = 301;
    Random random = new Random(17);
    Tensor gate = cpu.fromHost(randn(random, n * f, 2.0), n, f);
    Tensor up = cpu.fromHost(randn(random, n * f, 1.0), n, f);
    Tensor dout = cpu.fromHost(randn(random, n * f, 1.0), n, f);
    Tensor dgate = cpu.zeros(n, f);
    Tensor dup = cpu.zeros(n, f);
    SwiGlu.backward(dgate, dup, dout, gate, up);
    float[] poison = new float[n * f];
    java.util.Arrays.fill(poison, Float.NaN);
    Tensor freshGate = cpu.fromHost(poison, n, f);
    Tensor freshUp = cpu.fromHost(poison, n, f);
    SwiGlu.backward(freshGate, freshUp, dout, gate, up, false);
    assertThat(cpu.toHost(freshGate)).containsExactly(cpu.toHost(dgate));
    assertThat(cpu.toHost(freshUp)).containsExactly(cpu.toHost(dup));
  }

  @Test
  void isIndependentOfThreadCount() {
    int n = 41;
    int f = 1001;
    Random random = new Random(3);
    Tensor gate = cpu.fromHost(randn(random, n * f, 2.0), n, f);
    Tensor up = cpu.fromHost(randn(random, n * f, 1.0), n, f);
    Tensor dout = cpu.fromHost(randn(random, n * f, 1.0), n, f);
    int threads = Parallel.threads();
    try {
      float[][] one = run(1, gate, up, dout);
      float[][] two = run(2, gate, up, dout);
      for (int i = 0; i < one.length; i++) {
        assertThat(two[i]).containsExactly(one[i]);
      }
    } finally {
      Parallel.setThreads(threads);
    }
  }

  private float[][] run(int threads, Tensor gate, Tensor up, Tensor dout) {
    Parallel.setThreads(threads);
    int[] shape = gate.shape();
    Tensor out = cpu.zeros(shape);
    SwiGlu.forward(out, gate, up);
    Tensor dgate = cpu.zeros(shape);
    Tensor dup = cpu.zeros(shape);
    SwiGlu.backward(dgate, dup, dout, gate, up);
    return new float[][] {cpu.toHost(out), cpu.toHost(dgate), cpu.toHost(dup)};
  }
}
