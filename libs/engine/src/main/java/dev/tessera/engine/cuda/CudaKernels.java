package dev.tessera.engine.cuda;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.CrossEntropy;
import dev.tessera.engine.ops.DeviceKernels;
import dev.tessera.engine.ops.Rope;
import java.util.Arrays;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * The ops' CUDA launchers: each method turns an op's (already validated) arguments into kernel
 * launches on the backend's stream. Kernel sources live in {@code src/main/cuda}; the name of each
 * kernel launched here is the {@code extern "C"} function of the same name there.
 */
final class CudaKernels implements DeviceKernels {
  private static final int THREADS = 256;

  /** Rows of a column sum handled by one block (matches the kernels' chunk of 64 rows). */
  private static final int COLUMN_CHUNK = 64;

  private final CudaBackend cuda;
  private final Map<Rope.Table, Tensor[]> ropeTables = new WeakHashMap<>();

  CudaKernels(CudaBackend cuda) {
    this.cuda = cuda;
  }

  private long ptr(Tensor tensor) {
    return cuda.address(tensor);
  }

  /**
   * An output's fp32 address for the launch after {@link CudaBackend#shadow}, or 0 (null) when the
   * tensor is declared GEMM-only and the launch writes just its bf16 values.
   */
  private long fp32Output(Tensor tensor) {
    return cuda.fp32Needed(tensor) ? ptr(tensor) : 0L;
  }

  private static KernelLaunch.Shape elementwise(long n) {
    return KernelLaunch.Shape.elementwise(n, THREADS);
  }

  /** One block per row; threads sized to the row length. */
  private static KernelLaunch.Shape rows(int rows, int cols) {
    int threads = cols >= 1024 ? 1024 : cols >= 512 ? 512 : cols >= 256 ? 256 : 128;
    return KernelLaunch.Shape.linear(rows, threads);
  }

  /** RMSNorm's launch: one warp per row, eight rows per block. */
  private static KernelLaunch.Shape warpPerRow(int rows) {
    return KernelLaunch.Shape.linear(Math.max(1, (rows + 7) / 8), 256);
  }

  /**
   * 1 when rows of {@code width} values can be read four at a time: the width a multiple of four,
   * every fp32 address 16-byte aligned and the bf16 copy's 8-byte (0 addresses, absent outputs,
   * pass).
   */
  private static int rowsOfFour(int width, long bf16Address, long... fp32Addresses) {
    return width % 4 == 0 && bf16Address % 8 == 0 ? aligned(fp32Addresses) : 0;
  }

  /** 1 when every address is 16-byte aligned (float4 loads and stores), else 0. */
  private static int aligned(long... addresses) {
    for (long address : addresses) {
      if (address % 16 != 0) {
        return 0;
      }
    }
    return 1;
  }

  /** An element-wise launch over {@code n} values, a thread per four of them when {@code vec}. */
  private static KernelLaunch.Shape fourAtATime(long n, int vec) {
    return elementwise(vec == 1 ? Math.max(1, n / 4) : n);
  }

  private static KernelLaunch.Shape columnChunks(int rows, int cols) {
    return new KernelLaunch.Shape(
        (cols + THREADS - 1) / THREADS,
        Math.max(1, (rows + COLUMN_CHUNK - 1) / COLUMN_CHUNK),
        1,
        THREADS);
  }

  @Override
  public void matmulForward(Tensor out, Tensor inp, Tensor weight, Tensor bias) {
    int oc = weight.dim(0);
    int c = weight.dim(1);
    int n = Math.toIntExact(inp.size() / c);
    // An aligned bias is added by the GEMM's epilogue; another one first, by a kernel of its own.
    long epilogueBias = bias != null && aligned(ptr(bias)) == 1 ? ptr(bias) : 0L;
    float beta = 0f;
    if (bias != null && epilogueBias == 0L) {
      cuda.launch("broadcast_rows", elementwise((long) n * oc), ptr(bias), ptr(out), n, oc);
      beta = 1f;
    }
    // out[N, OC] = inp[N, C] @ weight[OC, C]^T (+ bias)
    RowMajorGemm shape = RowMajorGemm.packed(false, true, n, oc, c);
    if (cuda.gemmPrecision() == CublasLt.Precision.BF16) {
      CudaBackend.Operand inp16 = cuda.bf16Operand(inp, false);
      CudaBackend.Operand weight16 = cuda.bf16Operand(weight, true);
      gemmBf16(shape, inp16.address(), weight16.address(), beta, ptr(out), epilogueBias);
      cuda.release(inp16);
      cuda.release(weight16);
      return;
    }
    gemm(shape, ptr(inp), ptr(weight), beta, ptr(out), epilogueBias);
  }

  @Override
  public void matmulBackward(
      Tensor dinp,
      Tensor dweight,
      Tensor dbias,
      Tensor dout,
      Tensor inp,
      Tensor weight,
      boolean accumulateDinp) {
    float dinpBeta = accumulateDinp ? 1f : 0f;
    int oc = weight.dim(0);
    int c = weight.dim(1);
    int n = Math.toIntExact(inp.size() / c);
    RowMajorGemm dinpShape = RowMajorGemm.packed(false, false, n, c, oc);
    RowMajorGemm dweightShape = RowMajorGemm.packed(true, false, oc, c, n);
    if (cuda.gemmPrecision() == CublasLt.Precision.BF16) {
      // Both products read dout: one bf16 copy serves them.
      CudaBackend.Operand dout16 = cuda.bf16Operand(dout, false);
      if (dinp != null) {
        // dinp[N, C] (+)= dout[N, OC] @ weight[OC, C]
        CudaBackend.Operand weight16 = cuda.bf16Operand(weight, true);
        gemmBf16(dinpShape, dout16.address(), weight16.address(), dinpBeta, ptr(dinp));
        cuda.release(weight16);
      }
      if (dweight != null) {
        // dweight[OC, C] += dout[N, OC]^T @ inp[N, C]
        CudaBackend.Operand inp16 = cuda.bf16Operand(inp, false);
        gemmBf16(dweightShape, dout16.address(), inp16.address(), 1f, ptr(dweight));
        cuda.release(inp16);
      }
      cuda.release(dout16);
    } else {
      if (dinp != null) {
        gemm(dinpShape, ptr(dout), ptr(weight), dinpBeta, ptr(dinp));
      }
      if (dweight != null) {
        gemm(dweightShape, ptr(dout), ptr(inp), 1f, ptr(dweight));
      }
    }
    if (dbias != null) {
      cuda.launch("column_sum_accumulate", columnChunks(n, oc), ptr(dout), ptr(dbias), n, oc);
    }
  }

  /**
   * {@code C = op(A) op(B) + beta C} on the backend's GEMM precision, timed when profiling. In BF16
   * precision the operands are first rounded to bf16 copies: cuBLASLt then runs its bf16 kernels
   * (about twice the rate of letting it round fp32 operands itself), accumulating and writing C in
   * fp32.
   */
  private void gemm(RowMajorGemm shape, long a, long b, float beta, long c) {
    gemm(shape, a, b, beta, c, 0L);
  }

  /** As above, with {@code bias} (0: none) added to every row of C by the GEMM's epilogue. */
  private void gemm(RowMajorGemm shape, long a, long b, float beta, long c, long bias) {
    String name = "gemm " + shape.label();
    CublasLt.Precision precision = cuda.gemmPrecision();
    if (precision != CublasLt.Precision.BF16) {
      cuda.noteIssued();
      cuda.timed(
          name, () -> cuda.cublasLt().gemm(shape, precision, false, 1f, a, b, beta, c, bias));
      return;
    }
    DeviceAllocator.Block a16 = cuda.bf16Copy(a, shape.extentA());
    DeviceAllocator.Block b16 = cuda.bf16Copy(b, shape.extentB());
    gemmBf16(shape, a16.address(), b16.address(), beta, c, bias);
    cuda.release(a16);
    cuda.release(b16);
  }

  /**
   * {@code C = op(A) op(B) + beta C} with A and B already bf16 copies (fp32 accumulation, C fp32).
   */
  private void gemmBf16(RowMajorGemm shape, long a16, long b16, float beta, long c) {
    gemmBf16(shape, a16, b16, beta, c, 0L);
  }

  /** As above, with {@code bias} (0: none) added to every row of C by the GEMM's epilogue. */
  private void gemmBf16(RowMajorGemm shape, long a16, long b16, float beta, long c, long bias) {
    cuda.noteIssued();
    cuda.timed(
        "gemm " + shape.label(),
        () ->
            cuda.cublasLt()
                .gemm(shape, CublasLt.Precision.FP32, true, 1f, a16, b16, beta, c, bias));
  }

  /**
   * Whether an element-wise kernel may take these tensors four floats at a time: {@code n} a
   * multiple of 4 and every tensor 16-byte aligned (views into flat buffers need not be).
   */
  private boolean vectorizable(int n, Tensor... tensors) {
    return n % 4 == 0 && aligned(Arrays.stream(tensors).mapToLong(this::ptr).toArray()) == 1;
  }

  @Override
  public void embeddingForward(Tensor out, Tensor table, int[] ids, int idsOffset) {
    int c = table.dim(1);
    int t = Math.toIntExact(out.size() / c);
    DeviceAllocator.Block idBlock = cuda.deviceInts(ids, idsOffset, t);
    cuda.launch(
        "embedding_forward",
        elementwise((long) t * c),
        ptr(table),
        idBlock.address(),
        ptr(out),
        t,
        c);
  }

  @Override
  public void embeddingBackward(Tensor dtable, Tensor dout, int[] ids, int idsOffset) {
    int c = dtable.dim(1);
    int t = Math.toIntExact(dout.size() / c);
    DeviceAllocator.Block idBlock = cuda.deviceInts(ids, idsOffset, t);
    cuda.launch(
        "embedding_backward",
        elementwise((long) t * c),
        ptr(dtable),
        idBlock.address(),
        ptr(dout),
        t,
        c);
  }

  @Override
  public void rmsNormForward(Tensor out, Tensor rstd, Tensor inp, Tensor weight, float eps) {
    int c = weight.intSize();
    int n = inp.intSize() / c;
    long out16 = cuda.shadow(out);
    long outAddress = fp32Output(out);
    cuda.launch(
        "rmsnorm_forward",
        warpPerRow(n),
        ptr(inp),
        ptr(weight),
        outAddress,
        ptr(rstd),
        n,
        c,
        eps,
        out16,
        rowsOfFour(c, out16, ptr(inp), ptr(weight), outAddress));
  }

  @Override
  public void rmsNormBackward(
      Tensor dinp, Tensor dweight, Tensor dout, Tensor inp, Tensor weight, Tensor rstd) {
    int c = weight.intSize();
    int n = inp.intSize() / c;
    cuda.launch(
        "rmsnorm_backward_input",
        warpPerRow(n),
        ptr(dinp),
        ptr(dout),
        ptr(inp),
        ptr(weight),
        ptr(rstd),
        n,
        c,
        rowsOfFour(c, 0, ptr(dinp), ptr(dout), ptr(inp), ptr(weight)));
    cuda.launch(
        "rmsnorm_backward_weight",
        columnChunks(n, c),
        ptr(dweight),
        ptr(dout),
        ptr(inp),
        ptr(rstd),
        n,
        c);
  }

  @Override
  public void layerNormForward(
      Tensor out, Tensor mean, Tensor rstd, Tensor inp, Tensor weight, Tensor bias, float eps) {
    int c = weight.intSize();
    int n = inp.intSize() / c;
    cuda.launch(
        "layernorm_forward",
        rows(n, c),
        ptr(inp),
        ptr(weight),
        ptr(bias),
        ptr(out),
        ptr(mean),
        ptr(rstd),
        c,
        eps);
  }

  @Override
  public void layerNormBackward(
      Tensor dinp,
      Tensor dweight,
      Tensor dbias,
      Tensor dout,
      Tensor inp,
      Tensor weight,
      Tensor mean,
      Tensor rstd) {
    int c = weight.intSize();
    int n = inp.intSize() / c;
    cuda.launch(
        "layernorm_backward_input",
        rows(n, c),
        ptr(dinp),
        ptr(dout),
        ptr(inp),
        ptr(weight),
        ptr(mean),
        ptr(rstd),
        c);
    cuda.launch(
        "layernorm_backward_params",
        columnChunks(n, c),
        ptr(dweight),
        ptr(dbias),
        ptr(dout),
        ptr(inp),
        ptr(mean),
        ptr(rstd),
        n,
        c);
  }

  @Override
  public void rope(
      Tensor target,
      Tensor source,
      int[] positions,
      int positionsOffset,
      Rope.Table table,
      boolean inverse,
      boolean accumulate) {
    int t = source.dim(0);
    int h = source.dim(1);
    int d = source.dim(2);
    Tensor[] cosSin = ropeTable(table);
    DeviceAllocator.Block positionBlock = cuda.deviceInts(positions, positionsOffset, t);
    cuda.launch(
        "rope_apply",
        elementwise((long) t * h * (d / 2)),
        ptr(target),
        ptr(source),
        positionBlock.address(),
        ptr(cosSin[0]),
        ptr(cosSin[1]),
        t,
        h,
        d,
        inverse ? (accumulate ? 1 : 2) : 0);
  }

  /** The table's cos and sin on the device, uploaded once per table. */
  private Tensor[] ropeTable(Rope.Table table) {
    synchronized (ropeTables) {
      Tensor[] tensors = ropeTables.get(table);
      if (tensors == null) {
        int half = table.headDim() / 2;
        int entries = Math.max(1, table.maxPositions() * half);
        float[] cos = table.cosines();
        float[] sin = table.sines();
        tensors =
            new Tensor[] {
              cuda.fromHost(cos.length == 0 ? new float[1] : cos, entries),
              cuda.fromHost(sin.length == 0 ? new float[1] : sin, entries)
            };
        ropeTables.put(table, tensors);
      }
      return tensors;
    }
  }

  @Override
  public void geluForward(Tensor out, Tensor inp) {
    int n = inp.intSize();
    cuda.launch("gelu_forward", elementwise(n), ptr(inp), ptr(out), n);
  }

  @Override
  public void geluBackward(Tensor dinp, Tensor dout, Tensor inp) {
    int n = inp.intSize();
    cuda.launch("gelu_backward", elementwise(n), ptr(dinp), ptr(dout), ptr(inp), n);
  }

  @Override
  public void geluErfForward(Tensor out, Tensor inp) {
    int n = inp.intSize();
    cuda.launch("gelu_erf_forward", elementwise(n), ptr(inp), ptr(out), n);
  }

  @Override
  public void geluErfBackward(Tensor dinp, Tensor dout, Tensor inp) {
    int n = inp.intSize();
    cuda.launch("gelu_erf_backward", elementwise(n), ptr(dinp), ptr(dout), ptr(inp), n);
  }

  @Override
  public void quickGeluForward(Tensor out, Tensor inp) {
    int n = inp.intSize();
    cuda.launch("quick_gelu_forward", elementwise(n), ptr(inp), ptr(out), n);
  }

  @Override
  public void quickGeluBackward(Tensor dinp, Tensor dout, Tensor inp) {
    int n = inp.intSize();
    cuda.launch("quick_gelu_backward", elementwise(n), ptr(dinp), ptr(dout), ptr(inp), n);
  }

  @Override
  public void swiGluForward(Tensor out, Tensor gate, Tensor up) {
    int n = gate.intSize();
    boolean vec4 = vectorizable(n, gate, up, out);
    long out16 = cuda.shadow(out);
    cuda.launch(
        vec4 ? "swiglu_forward_vec4" : "swiglu_forward",
        elementwise(vec4 ? n / 4 : n),
        ptr(gate),
        ptr(up),
        fp32Output(out),
        vec4 ? n / 4 : n,
        out16);
  }

  @Override
  public void swiGluBackward(
      Tensor dgate, Tensor dup, Tensor dout, Tensor gate, Tensor up, boolean accumulate) {
    int n = gate.intSize();
    boolean vec4 = vectorizable(n, dgate, dup, dout, gate, up);
    long dgate16 = cuda.shadow(dgate);
    long dup16 = dgate16 == 0 ? 0L : cuda.shadow(dup);
    long dgate32 = fp32Output(dgate);
    long dup32 = fp32Output(dup);
    if ((dgate32 == 0) != (dup32 == 0) || (dgate32 == 0 && accumulate)) {
      throw new IllegalStateException(
          "SwiGLU backward: dgate and dup must both be declared Backend.onlyForGemms or neither,"
              + " and only when overwritten");
    }
    cuda.launch(
        vec4 ? "swiglu_backward_vec4" : "swiglu_backward",
        elementwise(vec4 ? n / 4 : n),
        dgate32,
        dup32,
        ptr(dout),
        ptr(gate),
        ptr(up),
        vec4 ? n / 4 : n,
        accumulate ? 1 : 0,
        dgate16,
        dup16);
  }

  @Override
  public void add(Tensor out, Tensor a, Tensor b) {
    int n = a.intSize();
    int vec = aligned(ptr(a), ptr(b), ptr(out));
    cuda.launch("add_forward", fourAtATime(n, vec), ptr(a), ptr(b), ptr(out), n, vec);
  }

  @Override
  public void accumulate(Tensor acc, Tensor x, float alpha) {
    int n = x.intSize();
    int vec = aligned(ptr(acc), ptr(x));
    cuda.launch("accumulate", fourAtATime(n, vec), ptr(acc), ptr(x), alpha, n, vec);
  }

  @Override
  public void scale(Tensor out, Tensor inp, float s) {
    int n = inp.intSize();
    int vec = aligned(ptr(inp), ptr(out));
    cuda.launch("scale_forward", fourAtATime(n, vec), ptr(inp), ptr(out), s, n, vec);
  }

  @Override
  public void softmaxForward(Tensor out, Tensor inp) {
    int c = inp.dim(inp.rank() - 1);
    int n = inp.intSize() / c;
    cuda.launch("softmax_forward", rows(n, c), ptr(inp), ptr(out), c);
  }

  @Override
  public void softmaxBackward(Tensor dinp, Tensor dout, Tensor out) {
    int c = out.dim(out.rank() - 1);
    int n = out.intSize() / c;
    cuda.launch("softmax_backward", rows(n, c), ptr(dinp), ptr(dout), ptr(out), c);
  }

  @Override
  public void avgPoolForward(
      Tensor out, Tensor inp, int height, int width, int outHeight, int outWidth) {
    int b = inp.dim(0);
    int c = inp.dim(2);
    cuda.launch(
        "avgpool_forward",
        elementwise(out.size()),
        ptr(inp),
        ptr(out),
        b,
        height,
        width,
        outHeight,
        outWidth,
        c);
  }

  @Override
  public void avgPoolBackward(
      Tensor dinp, Tensor dout, int height, int width, int outHeight, int outWidth) {
    int b = dinp.dim(0);
    int c = dinp.dim(2);
    cuda.launch(
        "avgpool_backward",
        elementwise(dinp.size()),
        ptr(dinp),
        ptr(dout),
        b,
        height,
        width,
        outHeight,
        outWidth,
        c);
  }

  @Override
  public double crossEntropy(
      Tensor dlogits, Tensor logits, int[] targets, int targetOffset, float lossScale) {
    int n = logits.dim(0);
    int v = logits.dim(1);
    if (n == 0) {
      return 0;
    }
    DeviceAllocator.Block targetBlock = cuda.deviceInts(targets, targetOffset, n);
    DeviceAllocator.Block lossBlock = cuda.scratch(4L * n);
    long dlogits16 = cuda.shadow(dlogits);
    long dlogitsAddress = fp32Output(dlogits);
    cuda.launch(
        "cross_entropy_forward_backward",
        KernelLaunch.Shape.linear(n, 1024),
        ptr(logits),
        dlogitsAddress,
        targetBlock.address(),
        lossBlock.address(),
        v,
        lossScale,
        CrossEntropy.IGNORE_INDEX,
        dlogits16,
        rowsOfFour(v, dlogits16, ptr(logits), dlogitsAddress));
    float[] rowLoss = cuda.download(lossBlock.address(), n);
    cuda.release(lossBlock);
    double loss = 0;
    for (float l : rowLoss) {
      loss += l;
    }
    return loss;
  }

  @Override
  public void attentionForward(
      Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, int[] keyStart) {
    AttentionLaunch.forward(cuda, out, lse, q, k, v, keyStart);
  }

  @Override
  public void attentionBackward(
      Tensor dq,
      Tensor dk,
      Tensor dv,
      Tensor dout,
      Tensor q,
      Tensor k,
      Tensor v,
      Tensor out,
      Tensor lse,
      int[] keyStart) {
    AttentionLaunch.backward(cuda, dq, dk, dv, dout, q, k, v, out, lse, keyStart);
  }

  @Override
  public void bidirectionalAttentionForward(Tensor out, Tensor q, Tensor k, Tensor v) {
    AttentionLaunch.forward(cuda, out, null, q, k, v, null);
  }

  @Override
  public double sumSquares(Tensor x) {
    DeviceAllocator.Block result = cuda.scratch(8);
    cuda.memset(result.address(), 8);
    int n = x.intSize();
    cuda.launch(
        "sum_squares",
        KernelLaunch.Shape.linear(Math.min(4L * 132 * 8, (n + 1023) / 1024 + 1), 1024),
        ptr(x),
        n,
        result.address(),
        aligned(ptr(x)));
    double value = cuda.downloadDouble(result.address());
    cuda.release(result);
    return value;
  }

  @Override
  public void adamw(
      Tensor p,
      Tensor g,
      Tensor m,
      Tensor v,
      float beta1,
      float oneMinusBeta1,
      float beta2,
      float oneMinusBeta2,
      float keep,
      float stepSize,
      float rsqrtBias2,
      float eps,
      float gradScale) {
    int n = p.intSize();
    boolean vec4 = vectorizable(n, p, g, m, v);
    // The new weights' bf16 copy, written alongside: the next step's GEMMs read it.
    long p16 = cuda.optimizerCopy(p);
    cuda.launch(
        vec4 ? "adamw_update_vec4" : "adamw_update",
        elementwise(vec4 ? n / 4 : n),
        ptr(p),
        ptr(g),
        ptr(m),
        ptr(v),
        vec4 ? n / 4 : n,
        beta1,
        oneMinusBeta1,
        beta2,
        oneMinusBeta2,
        keep,
        stepSize,
        rsqrtBias2,
        eps,
        gradScale,
        p16);
    cuda.optimizerLaunched();
  }
}
