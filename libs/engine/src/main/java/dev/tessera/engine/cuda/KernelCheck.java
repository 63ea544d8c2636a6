package dev.tessera.engine.cuda;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.ops.AdaptiveAvgPool2d;
import dev.tessera.engine.ops.Add;
import dev.tessera.engine.ops.Attention;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.engine.ops.BidirectionalAttention;
import dev.tessera.engine.ops.CrossEntropy;
import dev.tessera.engine.ops.Embedding;
import dev.tessera.engine.ops.Gelu;
import dev.tessera.engine.ops.GeluErf;
import dev.tessera.engine.ops.LayerNorm;
import dev.tessera.engine.ops.Matmul;
import dev.tessera.engine.ops.QuickGelu;
import dev.tessera.engine.ops.RmsNorm;
import dev.tessera.engine.ops.Rope;
import dev.tessera.engine.ops.Scale;
import dev.tessera.engine.ops.Softmax;
import dev.tessera.engine.ops.SwiGlu;
import dev.tessera.engine.optim.AdamW;
import dev.tessera.engine.optim.GradClip;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Runs every op on the CPU backend and on a CUDA backend with the same fresh random inputs and
 * compares the results: relative error {@code ||cuda - cpu|| / ||cpu||} per output, NaN or infinity
 * never passes. Accumulating outputs start from the same random values on both sides, so "+="
 * versus "=" mistakes show. The GPU check script runs this; it needs a GPU.
 */
public final class KernelCheck {
  /** One output's comparison. */
  public record Result(String op, String output, double relativeError, double tolerance) {
    public boolean passed() {
      return relativeError <= tolerance; // false for NaN
    }

    @Override
    public String toString() {
      return String.format(
          Locale.ROOT,
          "%-34s %-8s rel err %.2e (tolerance %.0e) %s",
          op,
          output,
          relativeError,
          tolerance,
          passed() ? "ok" : "FAIL");
    }
  }

  /** fp32 kernels: summation order differs from the CPU, nothing else. */
  public static final double FP32_TOLERANCE = 1e-5;

  private final Backend cuda;
  private final CpuBackend cpu = CpuBackend.get();
  private final SplittableRandom random;
  private final List<Result> results = new ArrayList<>();

  /**
   * @param cuda the backend under test (a {@link CudaBackend}; the CPU backend itself checks the
   *     harness)
   * @param seed of the random inputs
   */
  public KernelCheck(Backend cuda, long seed) {
    this.cuda = cuda;
    this.random = new SplittableRandom(seed);
  }

  /** Both sides of one check: the CPU tensors and their CUDA copies, by argument position. */
  private final class Pair {
    final List<Tensor> host = new ArrayList<>();
    final List<Tensor> device = new ArrayList<>();

    /** A random tensor in [-scale, scale), present on both backends. */
    int random(float scale, int... shape) {
      Tensor h = cpu.zeros(shape);
      float[] values = CpuBackend.data(h);
      for (int i = 0; i < values.length; i++) {
        values[i] = (float) ((random.nextDouble() * 2 - 1) * scale);
      }
      host.add(h);
      device.add(cuda.fromHost(values, shape));
      return host.size() - 1;
    }

    int positive(float lo, float hi, int... shape) {
      Tensor h = cpu.zeros(shape);
      float[] values = CpuBackend.data(h);
      for (int i = 0; i < values.length; i++) {
        values[i] = (float) (lo + random.nextDouble() * (hi - lo));
      }
      host.add(h);
      device.add(cuda.fromHost(values, shape));
      return host.size() - 1;
    }

    void run(Consumer<List<Tensor>> op) {
      op.accept(host);
      op.accept(device);
    }

    void compare(String op, double tolerance, int index, String output) {
      results.add(
          new Result(op, output, relativeError(host.get(index), device.get(index)), tolerance));
    }
  }

  private double relativeError(Tensor expected, Tensor actual) {
    float[] e = cpu.toHost(expected);
    float[] a = cuda.toHost(actual);
    double diff = 0;
    double norm = 0;
    for (int i = 0; i < e.length; i++) {
      if (!Float.isFinite(a[i])) {
        return Double.NaN;
      }
      double d = (double) a[i] - e[i];
      diff += d * d;
      norm += (double) e[i] * e[i];
    }
    return Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
  }

  private int[] randomInts(int count, int bound) {
    int[] values = new int[count];
    for (int i = 0; i < count; i++) {
      values[i] = random.nextInt(bound);
    }
    return values;
  }

  /** Runs every check; returns the results (see {@link Result#passed}). */
  public List<Result> runAll() {
    double tol = FP32_TOLERANCE;
    matmul(tol);
    {
      int v = 1001;
      int c = 96;
      int t = 300;
      int[] ids = randomInts(t, 50); // repeated ids: the backward's atomics must add up
      Pair p = new Pair();
      int table = p.random(1, v, c);
      int out = p.random(1, t, c);
      p.run(x -> Embedding.forward(x.get(out), x.get(table), ids, 0));
      p.compare("embedding forward", tol, out, "out");
      int dtable = p.random(1, v, c);
      int dout = p.random(1, t, c);
      p.run(x -> Embedding.backward(x.get(dtable), x.get(dout), ids, 0));
      p.compare("embedding backward", tol, dtable, "dtable");
    }
    // Rows read four values at a time (1536 columns), and one at a time (1030: not a multiple of
    // 4).
    for (int c : new int[] {1536, 1030}) {
      int n = 77;
      String suffix = c % 4 == 0 ? "" : " (" + c + " columns)";
      Pair p = new Pair();
      int inp = p.random(2, n, c);
      int w = p.positive(0.5f, 1.5f, c);
      int out = p.random(1, n, c);
      int rstd = p.random(1, n);
      p.run(t -> RmsNorm.forward(t.get(out), t.get(rstd), t.get(inp), t.get(w), 1e-6f));
      p.compare("rmsnorm forward" + suffix, tol, out, "out");
      p.compare("rmsnorm forward" + suffix, tol, rstd, "rstd");
      int dout = p.random(1, n, c);
      int dinp = p.random(1, n, c);
      int dw = p.random(1, c);
      p.run(
          t ->
              RmsNorm.backward(
                  t.get(dinp), t.get(dw), t.get(dout), t.get(inp), t.get(w), t.get(rstd)));
      p.compare("rmsnorm backward" + suffix, tol, dinp, "dinp");
      p.compare("rmsnorm backward" + suffix, tol, dw, "dweight");
    }
    {
      int n = 65;
      int c = 1152;
      Pair p = new Pair();
      int inp = p.random(2, n, c);
      int w = p.positive(0.5f, 1.5f, c);
      int b = p.random(1, c);
      int out = p.random(1, n, c);
      int mean = p.random(1, n);
      int rstd = p.random(1, n);
      p.run(
          t ->
              LayerNorm.forward(
                  t.get(out), t.get(mean), t.get(rstd), t.get(inp), t.get(w), t.get(b), 1e-6f));
      p.compare("layernorm forward", tol, out, "out");
      p.compare("layernorm forward", tol, rstd, "rstd");
      int dout = p.random(1, n, c);
      int dinp = p.random(1, n, c);
      int dw = p.random(1, c);
      int db = p.random(1, c);
      p.run(
          t ->
              LayerNorm.backward(
                  t.get(dinp),
                  t.get(dw),
                  t.get(db),
                  t.get(dout),
                  t.get(inp),
                  t.get(w),
                  t.get(mean),
                  t.get(rstd)));
      p.compare("layernorm backward", tol, dinp, "dinp");
      p.compare("layernorm backward", tol, dw, "dweight");
      p.compare("layernorm backward", tol, db, "dbias");
    }
    {
      int t = 129;
      int h = 12;
      int d = 128;
      Rope.Table table = new Rope.Table(d, 1_000_000, 4096);
      int[] positions = randomInts(t, 4096);
      Pair p = new Pair();
      int inp = p.random(1, t, h, d);
      int out = p.random(1, t, h, d);
      p.run(x -> Rope.forward(x.get(out), x.get(inp), positions, 0, table));
      p.compare("rope forward", tol, out, "out");
      int dinp = p.random(1, t, h, d);
      p.run(x -> Rope.backward(x.get(dinp), x.get(out), positions, 0, table));
      p.compare("rope backward", tol, dinp, "dinp");
      int fresh = p.random(1, t, h, d);
      p.run(x -> Rope.backward(x.get(fresh), x.get(out), positions, 0, table, false));
      p.compare("rope backward, overwritten", tol, fresh, "dinp");
    }
    elementwise("gelu (tanh)", Gelu::forward, Gelu::backward);
    elementwise("gelu (erf)", GeluErf::forward, GeluErf::backward);
    elementwise("quick gelu", QuickGelu::forward, QuickGelu::backward);
    // An odd count takes the one-element kernels; a multiple of 4 the four-element ones.
    for (int n : new int[] {100_003, 100_000}) {
      String suffix = n % 4 == 0 ? " (vec4)" : "";
      Pair p = new Pair();
      int gate = p.random(4, n);
      int up = p.random(2, n);
      int out = p.random(1, n);
      p.run(t -> SwiGlu.forward(t.get(out), t.get(gate), t.get(up)));
      p.compare("swiglu forward" + suffix, tol, out, "out");
      int dout = p.random(1, n);
      int dgate = p.random(1, n);
      int dup = p.random(1, n);
      p.run(t -> SwiGlu.backward(t.get(dgate), t.get(dup), t.get(dout), t.get(gate), t.get(up)));
      p.compare("swiglu backward" + suffix, tol, dgate, "dgate");
      p.compare("swiglu backward" + suffix, tol, dup, "dup");
      int freshGate = p.random(1, n);
      int freshUp = p.random(1, n);
      p.run(
          t ->
              SwiGlu.backward(
                  t.get(freshGate), t.get(freshUp), t.get(dout), t.get(gate), t.get(up), false));
      p.compare("swiglu backward, overwritten" + suffix, tol, freshGate, "dgate");
      p.compare("swiglu backward, overwritten" + suffix, tol, freshUp, "dup");
      int sum = p.random(1, n);
      p.run(t -> Add.forward(t.get(sum), t.get(gate), t.get(up)));
      p.compare("add" + suffix, tol, sum, "out");
      p.run(t -> Add.accumulate(t.get(sum), t.get(gate), 0.37f));
      p.compare("accumulate" + suffix, tol, sum, "acc");
      p.run(t -> Scale.forward(t.get(out), t.get(gate), -1.7f));
      p.compare("scale" + suffix, tol, out, "out");
      // Views one float in: not 16-byte aligned, so one value at a time.
      int shifted = p.random(1, n);
      p.run(
          t ->
              Add.forward(
                  t.get(shifted).slice(1, n - 1),
                  t.get(gate).slice(1, n - 1),
                  t.get(up).slice(1, n - 1)));
      p.run(t -> Add.accumulate(t.get(shifted).slice(1, n - 1), t.get(up).slice(1, n - 1), 2.5f));
      p.run(t -> Scale.forward(t.get(out).slice(1, n - 1), t.get(shifted).slice(1, n - 1), 0.3f));
      p.compare("add, accumulate, scale on unaligned views" + suffix, tol, out, "out");
    }
    {
      int n = 33;
      int c = 577;
      Pair p = new Pair();
      int inp = p.random(5, n, c);
      int out = p.random(1, n, c);
      p.run(t -> Softmax.forward(t.get(out), t.get(inp)));
      p.compare("softmax forward", tol, out, "out");
      int dout = p.random(1, n, c);
      int dinp = p.random(1, n, c);
      p.run(t -> Softmax.backward(t.get(dinp), t.get(dout), t.get(out)));
      p.compare("softmax backward", tol, dinp, "dinp");
    }
    {
      int b = 2;
      int c = 64;
      Pair p = new Pair();
      int inp = p.random(1, b, 27 * 27, c);
      int out = p.random(1, b, 12 * 12, c);
      p.run(t -> AdaptiveAvgPool2d.forward(t.get(out), t.get(inp), 27, 27, 12, 12));
      p.compare("avgpool 27x27->12x12 forward", tol, out, "out");
      int dout = p.random(1, b, 12 * 12, c);
      int dinp = p.random(1, b, 27 * 27, c);
      p.run(t -> AdaptiveAvgPool2d.backward(t.get(dinp), t.get(dout), 27, 27, 12, 12));
      p.compare("avgpool 27x27->12x12 backward", tol, dinp, "dinp");
    }
    // The vocabulary read four values at a time, and one at a time (1001 is not a multiple of 4).
    for (int v : new int[] {151_936, 1001}) {
      int n = 37;
      int[] targets = randomInts(n, v);
      for (int i = 0; i < n; i += 5) {
        targets[i] = CrossEntropy.IGNORE_INDEX;
      }
      Pair p = new Pair();
      int logits = p.random(8, n, v);
      int dlogits = p.random(1, n, v);
      double[] losses = new double[2];
      int[] side = {0};
      p.run(
          t -> {
            losses[side[0]++] =
                CrossEntropy.forwardBackward(t.get(dlogits), t.get(logits), targets, 0, 1f / 29);
          });
      results.add(
          new Result(
              "cross-entropy (V=" + v + ")",
              "loss",
              Math.abs(losses[1] - losses[0]) / Math.abs(losses[0]),
              tol));
      p.compare("cross-entropy (V=" + v + ")", tol, dlogits, "dlogits");
    }
    attention(AttentionMask.CONTINUOUS, 2, 300, 12, 2, 128, FP32_TOLERANCE);
    attention(AttentionMask.DOCUMENT, 2, 517, 12, 2, 128, FP32_TOLERANCE);
    attention(AttentionMask.DOCUMENT, 1, 200, 4, 4, 64, FP32_TOLERANCE);
    attention(AttentionMask.CONTINUOUS, 1, 97, 6, 3, 72, FP32_TOLERANCE);
    {
      int b = 2;
      int t = 197;
      int h = 16;
      int d = 72;
      Pair p = new Pair();
      int q = p.random(1, b, t, h, d);
      int k = p.random(1, b, t, h, d);
      int v = p.random(1, b, t, h, d);
      int out = p.random(1, b, t, h, d);
      p.run(x -> BidirectionalAttention.forward(x.get(out), x.get(q), x.get(k), x.get(v)));
      p.compare("bidirectional attention D=72", tol, out, "out");
    }
    {
      Pair p = new Pair();
      int g1 = p.random(1, 70_001);
      int g2 = p.random(3, 123, 45);
      List<Tensor> hostGrads = List.of(p.host.get(g1), p.host.get(g2));
      List<Tensor> deviceGrads = List.of(p.device.get(g1), p.device.get(g2));
      double cpuNorm = GradClip.globalNorm(hostGrads);
      double gpuNorm = GradClip.globalNorm(deviceGrads);
      results.add(
          new Result("global grad norm", "norm", Math.abs(gpuNorm - cpuNorm) / cpuNorm, tol));
      // A view one float into its buffer: not 16-byte aligned, summed a value at a time.
      Tensor hostView = p.host.get(g1).slice(1, 70_000);
      Tensor deviceView = p.device.get(g1).slice(1, 70_000);
      double cpuViewNorm = GradClip.globalNorm(List.of(hostView));
      double gpuViewNorm = GradClip.globalNorm(List.of(deviceView));
      results.add(
          new Result(
              "global grad norm, unaligned view",
              "norm",
              Math.abs(gpuViewNorm - cpuViewNorm) / cpuViewNorm,
              tol));
      GradClip.clip(hostGrads, 1.0);
      GradClip.clip(deviceGrads, 1.0);
      p.compare("grad clip", tol, g1, "grad");
    }
    {
      Pair p = new Pair();
      int w = p.random(1, 300, 40);
      // 301 elements: the one-element kernel; 12,000 (a multiple of 4): the four-element one.
      int bias = p.random(1, 301);
      int gw = p.random(1, 300, 40);
      int gb = p.random(1, 301);
      AdamW hostOpt =
          new AdamW(
              List.of(
                  new AdamW.Param("w", p.host.get(w), p.host.get(gw)),
                  new AdamW.Param("b", p.host.get(bias), p.host.get(gb))));
      AdamW deviceOpt =
          new AdamW(
              List.of(
                  new AdamW.Param("w", p.device.get(w), p.device.get(gw)),
                  new AdamW.Param("b", p.device.get(bias), p.device.get(gb))));
      for (int step = 0; step < 3; step++) {
        // The last step with a clipping factor folded into the update.
        float gradScale = step == 2 ? 0.37f : 1f;
        hostOpt.step(1e-3, gradScale);
        deviceOpt.step(1e-3, gradScale);
      }
      p.compare("adamw 3 steps", tol, w, "weight");
      p.compare("adamw 3 steps", tol, bias, "bias");
    }
    copies();
    return results;
  }

  /**
   * Copies between host and device, which go through a pinned staging ring without waiting: five 12
   * MiB copies wrap a 16 MiB ring several times before anything is read back, each source array is
   * overwritten as soon as its copy returns, and a device-to-device copy of each follows. Every
   * value must arrive exactly.
   */
  private void copies() {
    int n = 3 << 20;
    List<float[]> expected = new ArrayList<>();
    List<Tensor> copies = new ArrayList<>();
    float[] values = new float[n];
    for (int i = 0; i < 5; i++) {
      for (int j = 0; j < n; j++) {
        values[j] = (float) (random.nextDouble() * 2 - 1);
      }
      expected.add(values.clone());
      Tensor sent = cuda.fromHost(values, n);
      Arrays.fill(values, Float.NaN); // a copy that still read the array would bring NaN
      Tensor copy = cuda.empty(n);
      cuda.copy(sent, copy);
      copies.add(copy);
    }
    for (int i = 0; i < copies.size(); i++) {
      results.add(
          new Result(
              "host-device copies",
              "copy " + i,
              relativeError(cpu.fromHost(expected.get(i), n), copies.get(i)),
              0));
    }
  }

  /**
   * The linear layer forward and backward, odd sizes so that no dimension is a multiple of a tile;
   * {@code tolerance} 1e-2 for a backend whose GEMMs round operands to bf16.
   */
  public List<Result> matmul(double tol) {
    matmul(tol, "");
    optimizerCopies(tol);
    // Inside a stable-weights scope the backward reads the weight copy the forward made.
    Backend.WeightScope scope = cuda.stableWeights();
    try {
      matmul(tol, " (stable weights)");
      shadows(tol, false);
      shadows(tol, true);
    } finally {
      scope.close();
    }
    return results;
  }

  /**
   * AdamW's update, then a scope whose GEMMs read the updated weights: on a bf16 backend from the
   * bf16 copy the update wrote alongside (nothing else ran in between).
   */
  private void optimizerCopies(double tol) {
    int n = 67;
    int c = 96;
    int oc = 80;
    Pair p = new Pair();
    int w = p.random(0.1f, oc, c);
    int gw = p.random(1, oc, c);
    int inp = p.random(1, n, c);
    int out = p.random(1, n, oc);
    AdamW hostOpt = new AdamW(List.of(new AdamW.Param("w", p.host.get(w), p.host.get(gw))));
    AdamW deviceOpt = new AdamW(List.of(new AdamW.Param("w", p.device.get(w), p.device.get(gw))));
    hostOpt.step(3e-2);
    deviceOpt.step(3e-2);
    Backend.WeightScope scope = cuda.stableWeights();
    try {
      p.run(t -> Matmul.forward(t.get(out), t.get(inp), t.get(w), null));
    } finally {
      scope.close();
    }
    p.compare("adamw, then matmul forward (optimizer copy)", tol, out, "out");
    p.compare("adamw, then matmul forward (optimizer copy)", tol, w, "weight");
  }

  /**
   * Outputs marked immutable right after the kernel that wrote them, then read by GEMMs: on a bf16
   * backend inside a scope the GEMMs read the bf16 copy those kernels wrote alongside.
   */
  private void shadows(double tol, boolean gemmOnly) {
    String how = gemmOnly ? " (GEMM-only)" : " (shadow)";
    int n = 131;
    int c = 96;
    int oc = 72;
    Pair p = new Pair();
    int x = p.random(2, n, c);
    int normWeight = p.random(1, c);
    int normed = p.random(1, n, c);
    int rstd = p.random(1, n);
    before(gemmOnly, p, normed);
    p.run(t -> RmsNorm.forward(t.get(normed), t.get(rstd), t.get(x), t.get(normWeight), 1e-6f));
    after(gemmOnly, p, normed);
    int w = p.random(0.1f, oc, c);
    int out = p.random(1, n, oc);
    p.run(t -> Matmul.forward(t.get(out), t.get(normed), t.get(w), null));
    p.compare("rmsnorm, then matmul forward" + how, tol, out, "out");

    int gate = p.random(2, n, oc);
    int up = p.random(1, n, oc);
    int dact = p.random(1, n, oc);
    int dgate = p.random(1, n, oc);
    int dup = p.random(1, n, oc);
    before(gemmOnly, p, dgate, dup);
    p.run(
        t -> SwiGlu.backward(t.get(dgate), t.get(dup), t.get(dact), t.get(gate), t.get(up), false));
    after(gemmOnly, p, dgate, dup);
    int dinp = p.random(1, n, c);
    int dw = p.random(1, oc, c);
    p.run(
        t -> Matmul.backward(t.get(dinp), t.get(dw), null, t.get(dgate), t.get(normed), t.get(w)));
    p.compare("swiglu backward, then matmul backward" + how, tol, dinp, "dinp");
    p.compare("swiglu backward, then matmul backward" + how, tol, dw, "dweight");
    int dupInp = p.random(1, n, c);
    p.run(
        t ->
            Matmul.backward(t.get(dupInp), null, null, t.get(dup), t.get(normed), t.get(w), false));
    p.compare("swiglu backward, then matmul backward" + how, tol, dupInp, "dinp from dup");

    int[] targets = randomInts(n, oc);
    int logits = p.random(4, n, oc);
    int dlogits = p.random(1, n, oc);
    before(gemmOnly, p, dlogits);
    p.run(t -> CrossEntropy.forwardBackward(t.get(dlogits), t.get(logits), targets, 0, 0.01f));
    after(gemmOnly, p, dlogits);
    int dh = p.random(1, n, c);
    int dhead = p.random(1, oc, c);
    p.run(
        t ->
            Matmul.backward(
                t.get(dh), t.get(dhead), null, t.get(dlogits), t.get(normed), t.get(w)));
    p.compare("cross-entropy, then matmul backward" + how, tol, dh, "dinp");
    p.compare("cross-entropy, then matmul backward" + how, tol, dhead, "dweight");
  }

  /** Declares the device tensors GEMM-only before their writer (the GEMM-only round). */
  private void before(boolean gemmOnly, Pair p, int... tensors) {
    if (gemmOnly) {
      cuda.onlyForGemms(Arrays.stream(tensors).mapToObj(p.device::get).toArray(Tensor[]::new));
    }
  }

  /** Marks the device tensors immutable right after their writer (the shadow round). */
  private void after(boolean gemmOnly, Pair p, int... tensors) {
    if (!gemmOnly) {
      cuda.markImmutable(Arrays.stream(tensors).mapToObj(p.device::get).toArray(Tensor[]::new));
    }
  }

  private void matmul(double tol, String suffix) {
    int n = 203;
    int c = 333;
    int oc = 517;
    Pair p = new Pair();
    int out = p.random(1, n, oc);
    int inp = p.random(1, n, c);
    int w = p.random(0.1f, oc, c);
    int b = p.random(1, oc);
    // Inside a stable-weights scope the input's copy is kept from the forward to the backward.
    cuda.markImmutable(p.device.get(inp));
    p.run(t -> Matmul.forward(t.get(out), t.get(inp), t.get(w), t.get(b)));
    p.compare("matmul forward" + suffix, tol, out, "out");
    // A bias one float into its buffer: not aligned for the GEMM's epilogue, added by a kernel.
    int shiftedBias = p.random(1, oc + 1);
    int shiftedOut = p.random(1, n, oc);
    p.run(
        t ->
            Matmul.forward(
                t.get(shiftedOut), t.get(inp), t.get(w), t.get(shiftedBias).slice(1, oc)));
    p.compare("matmul forward, unaligned bias" + suffix, tol, shiftedOut, "out");
    int dout = p.random(1, n, oc);
    int dinp = p.random(1, n, c);
    int dw = p.random(1, oc, c);
    int db = p.random(1, oc);
    p.run(
        t -> Matmul.backward(t.get(dinp), t.get(dw), t.get(db), t.get(dout), t.get(inp), t.get(w)));
    p.compare("matmul backward" + suffix, tol, dinp, "dinp");
    p.compare("matmul backward" + suffix, tol, dw, "dweight");
    p.compare("matmul backward" + suffix, tol, db, "dbias");
    // Overwriting dinp: its random contents must not leak into the result.
    int fresh = p.random(1, n, c);
    p.run(t -> Matmul.backward(t.get(fresh), null, null, t.get(dout), t.get(inp), t.get(w), false));
    p.compare("matmul backward, dinp overwritten" + suffix, tol, fresh, "dinp");
  }

  private interface Unary {
    void apply(Tensor out, Tensor inp);
  }

  private interface UnaryBackward {
    void apply(Tensor dinp, Tensor dout, Tensor inp);
  }

  private void elementwise(String name, Unary forward, UnaryBackward backward) {
    int n = 100_003;
    Pair p = new Pair();
    int inp = p.random(4, n);
    int out = p.random(1, n);
    p.run(t -> forward.apply(t.get(out), t.get(inp)));
    p.compare(name + " forward", FP32_TOLERANCE, out, "out");
    int dout = p.random(1, n);
    int dinp = p.random(1, n);
    p.run(t -> backward.apply(t.get(dinp), t.get(dout), t.get(inp)));
    p.compare(name + " backward", FP32_TOLERANCE, dinp, "dinp");
  }

  /**
   * Causal attention forward and backward in the shapes the training precision's tensor-core
   * kernels take (head dimensions 128 and 64, grouped queries, both masks, ragged tiles, and one
   * packed 4096-token row of documents), against the CPU within {@code tolerance}.
   */
  public List<Result> attention(double tolerance) {
    attention(AttentionMask.CONTINUOUS, 2, 300, 12, 2, 128, tolerance);
    attention(AttentionMask.DOCUMENT, 2, 517, 12, 2, 128, tolerance);
    attention(AttentionMask.DOCUMENT, 1, 200, 4, 4, 64, tolerance);
    attention(AttentionMask.CONTINUOUS, 1, 77, 6, 3, 64, tolerance);
    attention(AttentionMask.DOCUMENT, 1, 4096, 12, 2, 128, tolerance);
    return results;
  }

  private void attention(AttentionMask mask, int b, int t, int hq, int hkv, int d, double tol) {
    int[][] starts = new int[b][];
    for (int row = 0; row < b; row++) {
      List<Integer> list = new ArrayList<>();
      list.add(0);
      int at = 0;
      while (mask == AttentionMask.DOCUMENT) {
        at += 1 + random.nextInt(Math.max(1, t / 3));
        if (at >= t) {
          break;
        }
        list.add(at);
      }
      starts[row] = list.stream().mapToInt(Integer::intValue).toArray();
    }
    String name =
        String.format(
            Locale.ROOT,
            "attention %s T=%d Hq=%d Hkv=%d D=%d",
            mask.name().toLowerCase(Locale.ROOT),
            t,
            hq,
            hkv,
            d);
    Pair p = new Pair();
    int q = p.random(1, b, t, hq, d);
    int k = p.random(1, b, t, hkv, d);
    int v = p.random(1, b, t, hkv, d);
    int out = p.random(1, b, t, hq, d);
    int lse = p.random(1, b, hq, t);
    p.run(
        x -> Attention.forward(x.get(out), x.get(lse), x.get(q), x.get(k), x.get(v), mask, starts));
    p.compare(name, tol, out, "out");
    p.compare(name, tol, lse, "lse");
    int dout = p.random(1, b, t, hq, d);
    int dq = p.random(1, b, t, hq, d);
    int dk = p.random(1, b, t, hkv, d);
    int dv = p.random(1, b, t, hkv, d);
    p.run(
        x ->
            Attention.backward(
                x.get(dq),
                x.get(dk),
                x.get(dv),
                x.get(dout),
                x.get(q),
                x.get(k),
                x.get(v),
                x.get(out),
                x.get(lse),
                mask,
                starts));
    p.compare(name, tol, dq, "dq");
    p.compare(name, tol, dk, "dk");
    p.compare(name, tol, dv, "dv");
  }
}
