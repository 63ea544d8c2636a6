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
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EmbeddingTest {
  private final CpuBackend cpu = CpuBackend.get();

  @ParameterizedTest(name = "T={0} V={1} C={2}")
  @CsvSource({"13,7,33", "40,50,100", "3,1000,17"})
  void forwardAndBackwardMatchLibtorch(int t, int v, int c) {
    Random random = new Random(t * 131L + v * 7L + c);
    float[] w = randn(random, v * c, 1.0);
    float[] dy = randn(random, t * c, 1.0);
    int offset = 2;
    int[] ids = new int[offset + t];
    long[] longIds = new long[t];
    for (int i = 0; i < t; i++) {
      // Small range so ids repeat and backward must sum them.
      ids[offset + i] = random.nextInt(Math.min(v, 5 + t / 3));
      longIds[i] = ids[offset + i];
    }

    Tensor table = cpu.fromHost(w, v, c);
    Tensor out = cpu.zeros(t, c);
    Embedding.forward(out, table, ids, offset);
    Tensor dtable = cpu.fromHost(randn(random, v * c, 1.0), v, c);
    float[] before = cpu.toHost(dtable);
    Embedding.backward(dtable, cpu.fromHost(dy, t, c), ids, offset);

    org.bytedeco.pytorch.Tensor tw = Torch.parameter(w, v, c);
    org.bytedeco.pytorch.Tensor ty = torch.embedding(tw, Torch.longs(longIds, t));
    ty.mul(Torch.tensor(dy, t, c)).sum().backward();

    assertClose("out", cpu.toHost(out), Torch.values(ty));
    float[] grad = cpu.toHost(dtable);
    for (int i = 0; i < grad.length; i++) {
      grad[i] -= before[i];
    }
    assertClose("dtable (accumulated)", grad, Torch.grad(tw));
  }

  @Test
  void backwardIsIndependentOfThreadCount() {
    int t = 300;
    int v = 11;
    int c = 257;
    Random random = new Random(5);
    int[] ids = new int[t];
    for (int i = 0; i < t; i++) {
      ids[i] = random.nextInt(v);
    }
    Tensor dout = cpu.fromHost(randn(random, t * c, 1.0), t, c);
    int threads = Parallel.threads();
    try {
      Parallel.setThreads(1);
      Tensor one = cpu.zeros(v, c);
      Embedding.backward(one, dout, ids, 0);
      Parallel.setThreads(2);
      Tensor two = cpu.zeros(v, c);
      Embedding.backward(two, dout, ids, 0);
      assertThat(cpu.toHost(two)).containsExactly(cpu.toHost(one));
    } finally {
      Parallel.setThreads(threads);
    }
  }

  @Test
  void rejectsIdsOutOfRange() {
    Tensor table = cpu.zeros(4, 3);
    Tensor out = cpu.zeros(2, 3);
    assertThatThrownBy(() -> Embedding.forward(out, table, new int[] {1, 4}, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ids[1] = 4");
    assertThatThrownBy(() -> Embedding.backward(table, out, new int[] {-1, 0}, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ids[0] = -1");
    assertThatThrownBy(() -> Embedding.forward(out, table, new int[] {1, 2}, 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("idsOffset");
  }
}
