package dev.tessera.engine.ops;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static dev.tessera.engine.oracle.Torch.randn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.engine.oracle.Torch;
import java.util.Arrays;
import java.util.Random;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AttentionTest {
  private final CpuBackend cpu = CpuBackend.get();

  /** Inputs, Tessera's forward and backward results for one configuration. */
  private static final class Run {
    final int b;
    final int t;
    final int hq;
    final int hkv;
    final int d;
    final float[] q;
    final float[] k;
    final float[] v;
    final float[] dy;
    float[] out;
    float[] lse;
    float[] dq;
    float[] dk;
    float[] dv;

    Run(Random random, int b, int t, int hq, int hkv, int d) {
      this.b = b;
      this.t = t;
      this.hq = hq;
      this.hkv = hkv;
      this.d = d;
      q = randn(random, b * t * hq * d, 1.0);
      k = randn(random, b * t * hkv * d, 1.0);
      v = randn(random, b * t * hkv * d, 1.0);
      dy = randn(random, b * t * hq * d, 1.0);
    }
  }

  private void runTessera(Run r, AttentionMask mask, int[][] starts) {
    Tensor q = cpu.fromHost(r.q, r.b, r.t, r.hq, r.d);
    Tensor k = cpu.fromHost(r.k, r.b, r.t, r.hkv, r.d);
    Tensor v = cpu.fromHost(r.v, r.b, r.t, r.hkv, r.d);
    Tensor out = cpu.zeros(r.b, r.t, r.hq, r.d);
    Tensor lse = cpu.zeros(r.b, r.hq, r.t);
    Attention.forward(out, lse, q, k, v, mask, starts);
    Tensor dq = cpu.zeros(r.b, r.t, r.hq, r.d);
    Tensor dk = cpu.zeros(r.b, r.t, r.hkv, r.d);
    Tensor dv = cpu.zeros(r.b, r.t, r.hkv, r.d);
    Attention.backward(
        dq, dk, dv, cpu.fromHost(r.dy, r.b, r.t, r.hq, r.d), q, k, v, out, lse, mask, starts);
    r.out = cpu.toHost(out);
    r.lse = cpu.toHost(lse);
    r.dq = cpu.toHost(dq);
    r.dk = cpu.toHost(dk);
    r.dv = cpu.toHost(dv);
  }

  /** Additive mask [B, 1, T, T]: 0 where query i may see key j, -inf elsewhere. */
  private static float[] additiveMask(int b, int t, AttentionMask mask, int[][] starts) {
    float[] m = new float[b * t * t];
    for (int row = 0; row < b; row++) {
      int[] sample = new int[t];
      for (int s = 0; s < starts[row].length; s++) {
        Arrays.fill(sample, starts[row][s], t, s);
      }
      for (int i = 0; i < t; i++) {
        for (int j = 0; j < t; j++) {
          boolean visible = j <= i && (mask == AttentionMask.CONTINUOUS || sample[i] == sample[j]);
          m[(row * t + i) * t + j] = visible ? 0f : Float.NEGATIVE_INFINITY;
        }
      }
    }
    return m;
  }

  /** Start offsets of uneven samples (including a 1-token one when T allows) covering T tokens. */
  private static int[] randomStarts(Random random, int t) {
    int[] starts = new int[t];
    int n = 0;
    int pos = 0;
    while (pos < t) {
      starts[n++] = pos;
      pos += n == 2 ? 1 : 1 + random.nextInt(Math.max(1, t / 3));
    }
    return Arrays.copyOf(starts, n);
  }

  @ParameterizedTest(name = "{0} B={1} T={2} Hq={3} Hkv={4} D={5}")
  @CsvSource({
    "CONTINUOUS, 2, 37, 2, 2, 24",
    "DOCUMENT,   2, 37, 2, 2, 24",
    "CONTINUOUS, 2, 37, 4, 2, 24",
    "DOCUMENT,   2, 37, 4, 2, 24",
    "CONTINUOUS, 2, 37, 12, 2, 24",
    "DOCUMENT,   2, 37, 12, 2, 24",
    "CONTINUOUS, 1, 150, 2, 1, 16",
    "DOCUMENT,   2, 150, 2, 1, 17",
  })
  void forwardAndBackwardMatchLibtorch(AttentionMask mask, int b, int t, int hq, int hkv, int d) {
    Random random = new Random(mask.ordinal() * 1009L + b * 131L + t * 31L + hq * 7L + hkv + d);
    Run r = new Run(random, b, t, hq, hkv, d);
    int[][] starts = new int[b][];
    for (int row = 0; row < b; row++) {
      starts[row] = randomStarts(random, t);
    }
    assertThat(starts[0].length).isGreaterThan(2);
    runTessera(r, mask, starts);

    org.bytedeco.pytorch.Tensor tq = Torch.parameter(r.q, b, t, hq, d);
    org.bytedeco.pytorch.Tensor tk = Torch.parameter(r.k, b, t, hkv, d);
    org.bytedeco.pytorch.Tensor tv = Torch.parameter(r.v, b, t, hkv, d);
    LongOptional headAxis = new LongOptional(1);
    org.bytedeco.pytorch.Tensor qh = tq.permute(0, 2, 1, 3);
    org.bytedeco.pytorch.Tensor kh =
        tk.permute(0, 2, 1, 3).repeat_interleave(hq / hkv, headAxis, new LongOptional());
    org.bytedeco.pytorch.Tensor vh =
        tv.permute(0, 2, 1, 3).repeat_interleave(hq / hkv, headAxis, new LongOptional());
    org.bytedeco.pytorch.Tensor scores =
        torch
            .matmul(qh, kh.transpose(-2, -1))
            .mul(new Scalar(1.0 / Math.sqrt(d)))
            .add(Torch.tensor(additiveMask(b, t, mask, starts), b, 1, t, t));
    org.bytedeco.pytorch.Tensor lse = torch.logsumexp(scores, new long[] {-1}, false);
    org.bytedeco.pytorch.Tensor y =
        torch
            .matmul(torch.softmax(scores, -1, new ScalarTypeOptional()), vh)
            .permute(0, 2, 1, 3)
            .contiguous();
    y.mul(Torch.tensor(r.dy, b, t, hq, d)).sum().backward();

    assertClose("out", r.out, Torch.values(y));
    assertClose("lse", r.lse, Torch.values(lse));
    assertClose("dq", r.dq, Torch.grad(tq));
    assertClose("dk", r.dk, Torch.grad(tk));
    assertClose("dv", r.dv, Torch.grad(tv));
  }

  /** The plain-loop kernels (JVMs without the Vector API) against libtorch and across threads. */
  @Test
  void scalarKernelsMatchLibtorch() {
    boolean simd = AttentionKernels.simd;
    try {
      AttentionKernels.simd = false;
      forwardAndBackwardMatchLibtorch(AttentionMask.CONTINUOUS, 2, 37, 4, 2, 24);
      forwardAndBackwardMatchLibtorch(AttentionMask.DOCUMENT, 2, 150, 2, 1, 17);
      documentMaskEqualsEachSampleAlone();
      resultsDoNotDependOnThreadCount();
    } finally {
      AttentionKernels.simd = simd;
    }
  }

  @Test
  void documentMaskEqualsEachSampleAlone() {
    Random random = new Random(7);
    int b = 2;
    int t = 45;
    int hq = 6;
    int hkv = 2;
    int d = 20;
    int[][] starts = {{0, 3, 4, 30}, {0, 17, 40}};
    Run packed = new Run(random, b, t, hq, hkv, d);
    runTessera(packed, AttentionMask.DOCUMENT, starts);
    for (int row = 0; row < b; row++) {
      for (int s = 0; s < starts[row].length; s++) {
        int from = starts[row][s];
        int len = (s + 1 < starts[row].length ? starts[row][s + 1] : t) - from;
        Run alone = new Run(random, 1, len, hq, hkv, d);
        int qFrom = (row * t + from) * hq * d;
        int kFrom = (row * t + from) * hkv * d;
        System.arraycopy(packed.q, qFrom, alone.q, 0, alone.q.length);
        System.arraycopy(packed.k, kFrom, alone.k, 0, alone.k.length);
        System.arraycopy(packed.v, kFrom, alone.v, 0, alone.v.length);
        System.arraycopy(packed.dy, qFrom, alone.dy, 0, alone.dy.length);
        runTessera(alone, AttentionMask.CONTINUOUS, null);
        String where = "row " + row + " sample " + s;
        assertThat(slice(packed.out, qFrom, alone.out.length)).as(where).isEqualTo(alone.out);
        assertThat(slice(packed.dq, qFrom, alone.dq.length)).as(where).isEqualTo(alone.dq);
        assertThat(slice(packed.dk, kFrom, alone.dk.length)).as(where).isEqualTo(alone.dk);
        assertThat(slice(packed.dv, kFrom, alone.dv.length)).as(where).isEqualTo(alone.dv);
        for (int h = 0; h < hq; h++) {
          assertThat(slice(packed.lse, (row * hq + h) * t + from, len))
              .as(where)
              .isEqualTo(slice(alone.lse, h * len, len));
        }
      }
    }
  }

  private static float[] slice(float[] values, int from, int length) {
    return Arrays.copyOfRange(values, from, from + length);
  }

  @Test
  void resultsDoNotDependOnThreadCount() {
    int threads = Parallel.threads();
    try {
      for (AttentionMask mask : AttentionMask.values()) {
        int[][] starts = {{0, 40, 41, 100}, {0, 70}};
        Run one = new Run(new Random(3), 2, 130, 4, 2, 24);
        Run two = new Run(new Random(3), 2, 130, 4, 2, 24);
        Parallel.setThreads(1);
        runTessera(one, mask, starts);
        Parallel.setThreads(2);
        runTessera(two, mask, starts);
        assertThat(two.out).as("out").isEqualTo(one.out);
        assertThat(two.lse).as("lse").isEqualTo(one.lse);
        assertThat(two.dq).as("dq").isEqualTo(one.dq);
        assertThat(two.dk).as("dk").isEqualTo(one.dk);
        assertThat(two.dv).as("dv").isEqualTo(one.dv);
      }
    } finally {
      Parallel.setThreads(threads);
    }
  }

  @Test
  void backwardAccumulates() {
    Run r = new Run(new Random(11), 1, 20, 2, 1, 8);
    runTessera(r, AttentionMask.CONTINUOUS, null);
    Tensor q = cpu.fromHost(r.q, 1, 20, 2, 8);
    Tensor k = cpu.fromHost(r.k, 1, 20, 1, 8);
    Tensor v = cpu.fromHost(r.v, 1, 20, 1, 8);
    Tensor out = cpu.fromHost(r.out, 1, 20, 2, 8);
    Tensor lse = cpu.fromHost(r.lse, 1, 2, 20);
    Tensor dq = cpu.fromHost(r.dq, 1, 20, 2, 8);
    Tensor dk = cpu.fromHost(r.dk, 1, 20, 1, 8);
    Tensor dv = cpu.fromHost(r.dv, 1, 20, 1, 8);
    Attention.backward(
        dq,
        dk,
        dv,
        cpu.fromHost(r.dy, 1, 20, 2, 8),
        q,
        k,
        v,
        out,
        lse,
        AttentionMask.CONTINUOUS,
        null);
    assertClose("dq twice", cpu.toHost(dq), scaled(r.dq, 2));
    assertClose("dk twice", cpu.toHost(dk), scaled(r.dk, 2));
    assertClose("dv twice", cpu.toHost(dv), scaled(r.dv, 2));
  }

  /** Written instead of accumulated: the same bits as into zeros, whatever the buffers held. */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"CONTINUOUS", "DOCUMENT"})
  void overwritingIgnoresWhatTheGradientsHeld(AttentionMask mask) {
    Random random = new Random(23);
    Run r = new Run(random, 2, 45, 4, 2, 16);
    int[][] starts = {randomStarts(random, 45), randomStarts(random, 45)};
    runTessera(r, mask, starts);
    Tensor q = cpu.fromHost(r.q, 2, 45, 4, 16);
    Tensor k = cpu.fromHost(r.k, 2, 45, 2, 16);
    Tensor v = cpu.fromHost(r.v, 2, 45, 2, 16);
    Tensor out = cpu.fromHost(r.out, 2, 45, 4, 16);
    Tensor lse = cpu.fromHost(r.lse, 2, 4, 45);
    Tensor dq = cpu.fromHost(nans(r.dq.length), 2, 45, 4, 16);
    Tensor dk = cpu.fromHost(nans(r.dk.length), 2, 45, 2, 16);
    Tensor dv = cpu.fromHost(nans(r.dv.length), 2, 45, 2, 16);
    Attention.backward(
        dq, dk, dv, cpu.fromHost(r.dy, 2, 45, 4, 16), q, k, v, out, lse, mask, starts, false);
    assertThat(cpu.toHost(dq)).containsExactly(r.dq);
    assertThat(cpu.toHost(dk)).containsExactly(r.dk);
    assertThat(cpu.toHost(dv)).containsExactly(r.dv);
  }

  private static float[] nans(int n) {
    float[] values = new float[n];
    Arrays.fill(values, Float.NaN);
    return values;
  }

  private static float[] scaled(float[] values, float factor) {
    float[] out = values.clone();
    for (int i = 0; i < out.length; i++) {
      out[i] *= factor;
    }
    return out;
  }

  @Test
  void rejectsBadArguments() {
    Tensor q = cpu.zeros(2, 10, 3, 4);
    Tensor k = cpu.zeros(2, 10, 2, 4);
    Tensor out = cpu.zeros(2, 10, 3, 4);
    Tensor lse = cpu.zeros(2, 3, 10);
    int[][] ok = {{0, 5}, {0}};
    assertThatThrownBy(() -> Attention.forward(out, lse, q, k, k, AttentionMask.CONTINUOUS, null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("Hq = 3")
        .hasMessageContaining("Hkv = 2");

    Tensor q4 = cpu.zeros(2, 10, 4, 4);
    Tensor out4 = cpu.zeros(2, 10, 4, 4);
    Tensor lse4 = cpu.zeros(2, 4, 10);
    assertThatThrownBy(
            () ->
                Attention.forward(
                    out4, lse4, q4, k, k, AttentionMask.DOCUMENT, new int[][] {{0, 10}, {0}}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("sampleStarts[0]")
        .hasMessageContaining("T = 10");
    assertThatThrownBy(
            () ->
                Attention.forward(
                    out4, lse4, q4, k, k, AttentionMask.DOCUMENT, new int[][] {{0, 3}, {0, -1}}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("sampleStarts[1]");
    assertThatThrownBy(
            () ->
                Attention.forward(
                    out4, lse4, q4, k, k, AttentionMask.DOCUMENT, new int[][] {{0, 6, 4}, {0}}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("sampleStarts[0]");
    assertThatThrownBy(
            () ->
                Attention.forward(
                    out4, lse4, q4, k, k, AttentionMask.DOCUMENT, new int[][] {{2, 6}, {0}}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must begin with 0");
    assertThatThrownBy(
            () ->
                Attention.forward(
                    out4, lse4, q4, k, k, AttentionMask.DOCUMENT, new int[][] {ok[0]}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("B = 2");
    assertThatThrownBy(() -> Attention.forward(out4, lse4, q4, k, k, AttentionMask.DOCUMENT, null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("sampleStarts");
    assertThatThrownBy(
            () ->
                Attention.forward(out4, cpu.zeros(2, 10, 4), q4, k, k, AttentionMask.DOCUMENT, ok))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("lse");
    assertThatThrownBy(
            () ->
                Attention.forward(
                    out4, lse4, q4, k, cpu.zeros(2, 10, 2, 5), AttentionMask.DOCUMENT, ok))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("v has shape");
  }
}
