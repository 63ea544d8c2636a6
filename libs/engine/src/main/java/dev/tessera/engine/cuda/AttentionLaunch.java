package dev.tessera.engine.cuda;

import dev.tessera.engine.Tensor;

/**
 * Launches the attention kernels with the grids their files' headers prescribe: tiles of 32 queries
 * (or keys), one grid column per (row, head). {@code attention.cu} (fp32) uses blocks of 128
 * threads (256 for the dk/dv kernel); {@code attention_mma.cu} (bf16 tensor cores, chosen by {@link
 * CudaBackend#tensorCoreAttention}) blocks of 64. The kernels assume exactly these sizes.
 */
final class AttentionLaunch {
  private static final int TILE = 32;
  private static final int THREADS = 128;
  private static final int MMA_THREADS = 64;

  private AttentionLaunch() {}

  /**
   * Forward; {@code lse} and {@code keyStart} null mean bidirectional attention (every query sees
   * every key of its row).
   */
  static void forward(
      CudaBackend cuda, Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, int[] keyStart) {
    int b = q.dim(0);
    int t = q.dim(1);
    int hq = q.dim(2);
    int d = q.dim(3);
    int hkv = k.dim(2);
    if ((long) b * t == 0) {
      return;
    }
    requireHeadDim(d);
    boolean causal = keyStart != null;
    DeviceAllocator.Block starts = causal ? cuda.deviceInts(keyStart, 0, b * t) : null;
    boolean mma = causal && cuda.tensorCoreAttention(d);
    cuda.launch(
        mma ? tensorCoreKernel("forward", d) : "attention_forward",
        new KernelLaunch.Shape(b * hq, tiles(t), 1, mma ? MMA_THREADS : THREADS),
        cuda.address(q),
        cuda.address(k),
        cuda.address(v),
        causal ? starts.address() : 0L,
        cuda.address(out),
        lse == null ? 0L : cuda.address(lse),
        b,
        t,
        hq,
        hkv,
        d,
        (float) (1.0 / Math.sqrt(d)),
        causal ? 1 : 0);
  }

  static void backward(
      CudaBackend cuda,
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
    int b = q.dim(0);
    int t = q.dim(1);
    int hq = q.dim(2);
    int d = q.dim(3);
    int hkv = k.dim(2);
    if ((long) b * t == 0) {
      return;
    }
    requireHeadDim(d);
    float scale = (float) (1.0 / Math.sqrt(d));
    DeviceAllocator.Block starts = cuda.deviceInts(keyStart, 0, b * t);
    DeviceAllocator.Block delta = cuda.scratch(4L * b * hq * t);
    long rowsHeads = (long) b * t * hq;
    cuda.launch(
        "attention_backward_delta",
        KernelLaunch.Shape.linear((rowsHeads + 7) / 8, 256),
        cuda.address(dout),
        cuda.address(out),
        delta.address(),
        b,
        t,
        hq,
        d);
    // dk/dv blocks own a key tile of one k/v head; with grouped queries they split the group's
    // query heads over grid z (more blocks in flight) and their partial sums are added after.
    int splits = hq / hkv;
    long kvElements = (long) b * t * hkv * d;
    DeviceAllocator.Block partials = splits > 1 ? cuda.scratch(2 * 4L * splits * kvElements) : null;
    long dkPart = partials == null ? 0L : partials.address();
    long dvPart = partials == null ? 0L : partials.address() + 4L * splits * kvElements;
    boolean mma = cuda.tensorCoreAttention(d);
    cuda.launch(
        mma ? tensorCoreKernel("dkdv", d) : "attention_backward_dkdv",
        new KernelLaunch.Shape(b * hkv, tiles(t), splits, mma ? MMA_THREADS : 2 * THREADS),
        cuda.address(q),
        cuda.address(k),
        cuda.address(v),
        cuda.address(dout),
        cuda.address(lse),
        delta.address(),
        starts.address(),
        cuda.address(dk),
        cuda.address(dv),
        dkPart,
        dvPart,
        b,
        t,
        hq,
        hkv,
        d,
        scale);
    if (partials != null) {
      cuda.launch(
          "attention_reduce_partials",
          KernelLaunch.Shape.linear((kvElements + 255) / 256, 256),
          cuda.address(dk),
          cuda.address(dv),
          dkPart,
          dvPart,
          kvElements,
          splits);
      cuda.release(partials);
    }
    cuda.launch(
        mma ? tensorCoreKernel("dq", d) : "attention_backward_dq",
        new KernelLaunch.Shape(b * hq, tiles(t), 1, mma ? MMA_THREADS : THREADS),
        cuda.address(q),
        cuda.address(k),
        cuda.address(v),
        cuda.address(dout),
        cuda.address(lse),
        delta.address(),
        starts.address(),
        cuda.address(dq),
        b,
        t,
        hq,
        hkv,
        d,
        scale);
    cuda.release(delta);
  }

  /**
   * Head dimensions with tensor-core kernels (instantiated by AMMA_KERNELS in attention_mma.cu).
   */
  static final int[] TENSOR_CORE_HEAD_DIMS = {64, 128};

  /** The tensor-core kernel for {@code pass} (forward, dkdv, dq) and head dimension {@code d}. */
  static String tensorCoreKernel(String pass, int d) {
    return "attention_mma_" + pass + "_d" + d;
  }

  private static int tiles(int t) {
    return (t + TILE - 1) / TILE;
  }

  private static void requireHeadDim(int d) {
    if (d < 1 || d > 128) {
      throw new IllegalArgumentException(
          "the CUDA attention kernels take head dimensions 1..128, got " + d);
    }
  }
}
