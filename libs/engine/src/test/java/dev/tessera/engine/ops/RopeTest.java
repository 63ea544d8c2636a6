package dev.tessera.engine.ops;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static dev.tessera.engine.oracle.Torch.randn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.oracle.Torch;
import java.util.Random;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RopeTest {
  private final CpuBackend cpu = CpuBackend.get();

  @ParameterizedTest(name = "T={0} H={1} D={2}")
  @CsvSource({"9,3,6", "21,2,34", "5,4,128"})
  void forwardAndBackwardMatchLibtorch(int t, int h, int d) {
    Random random = new Random(t * 17L + h * 5L + d);
    double theta = 1_000_000.0;
    float[] x = randn(random, t * h * d, 1.0);
    float[] dy = randn(random, t * h * d, 1.0);
    // Two packed documents: positions restart at 0 in the second one.
    int offset = 1;
    int[] positions = new int[offset + t];
    float[] floatPositions = new float[t];
    int split = t / 2;
    for (int i = 0; i < t; i++) {
      positions[offset + i] = i < split ? i + 60 : i - split;
      floatPositions[i] = positions[offset + i];
    }
    Rope.Table table = new Rope.Table(d, theta, 200);

    Tensor inp = cpu.fromHost(x, t, h, d);
    Tensor out = cpu.zeros(t, h, d);
    Rope.forward(out, inp, positions, offset, table);
    Tensor dinp = cpu.zeros(t, h, d);
    Rope.backward(dinp, cpu.fromHost(dy, t, h, d), positions, offset, table);

    // Hugging Face: inv_freq = 1 / theta^(2i/D); freqs = positions x inv_freq; emb = cat(f, f).
    int half = d / 2;
    float[] invFreq = new float[half];
    for (int i = 0; i < half; i++) {
      invFreq[i] = 1f / (float) Math.pow(theta, (float) (2 * i) / (float) d);
    }
    org.bytedeco.pytorch.Tensor freqs =
        Torch.tensor(floatPositions, t, 1).mul(Torch.tensor(invFreq, 1, half));
    org.bytedeco.pytorch.Tensor emb = torch.cat(new TensorVector(freqs, freqs), -1).unsqueeze(1);
    org.bytedeco.pytorch.Tensor cos = torch.cos(emb);
    org.bytedeco.pytorch.Tensor sin = torch.sin(emb);
    org.bytedeco.pytorch.Tensor tx = Torch.parameter(x, t, h, d);
    org.bytedeco.pytorch.Tensor rotated =
        torch.cat(new TensorVector(tx.narrow(2, half, half).neg(), tx.narrow(2, 0, half)), -1);
    org.bytedeco.pytorch.Tensor ty = tx.mul(cos).add(rotated.mul(sin));
    ty.mul(Torch.tensor(dy, t, h, d)).sum().backward();

    assertClose("out", cpu.toHost(out), Torch.values(ty));
    assertClose("dinp", cpu.toHost(dinp), Torch.grad(tx));

    // Written instead of accumulated: the same bits over a NaN-filled buffer.
    float[] poison = new float[t * h * d];
    java.util.Arrays.fill(poison, Float.NaN);
    Tensor written = cpu.fromHost(poison, t, h, d);
    Rope.backward(written, cpu.fromHost(dy, t, h, d), positions, offset, table, false);
    assertThat(cpu.toHost(written)).containsExactly(cpu.toHost(dinp));

    // The theta overload builds the same angles; in place gives the same result.
    Tensor again = cpu.fromHost(x, t, h, d);
    Rope.forward(again, again, positions, offset, theta);
    assertThat(cpu.toHost(again)).containsExactly(cpu.toHost(out));
  }

  @Test
  void rejectsBadPositionsAndShapes() {
    Rope.Table table = new Rope.Table(4, 10000, 8);
    Tensor x = cpu.zeros(2, 1, 4);
    assertThatThrownBy(() -> Rope.forward(x, x, new int[] {0, 8}, 0, table))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("positions[1] = 8");
    assertThatThrownBy(() -> Rope.forward(x, cpu.zeros(2, 1, 6), new int[] {0, 1}, 0, table))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("inp must be [T, H, 4]");
    assertThatThrownBy(() -> new Rope.Table(5, 10000, 8))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("headDim");
  }
}
