package dev.tessera.engine.cuda;

import dev.tessera.engine.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Launches the attention kernels with the grids their files' headers prescribe: tiles of 32 queries
 * (or keys), one grid column per (row, head). {@code attention.cu} (fp32) uses blocks of 128
 * threads (256 for the dk/dv kernel); {@code attention_mma.cu} (bf16 tensor cores, chosen by {@link
 * CudaBackend#tensorCoreAttention}) blocks of 64, and reads bf16 copies of its inputs made here.
 * The kernels assume exactly these sizes.
 */
final class AttentionLaunch {
  private static final int TILE = 32;
  private static final int THREADS = 128;
  private static final int MMA_THREADS = 64;

  /** Head dimensions with tensor-core kernels (instantiated by AMMA_KERNELS). */
  static final int[] TENSOR_CORE_HEAD_DIMS = {64, 128};

  private AttentionLaunch() {}

  /**
   * The device addresses a kernel reads its inputs from: the fp32 tensors themselves, or bf16
   * copies for the tensor-core kernels (released by {@link #close}).
   */
  private static final class Inputs implements AutoCloseable {
    private final CudaBackend cuda;
    private final DeviceAllocator.Block[] copies;
    final long[] addresses;

    Inputs(CudaBackend cuda, boolean bf16, Tensor... tensors) {
      this.cuda = cuda;
      this.copies = new DeviceAllocator.Block[tensors.length];
      this.addresses = new long[tensors.length];
      for (int i = 0; i < tensors.length; i++) {
        if (bf16) {
          copies[i] = cuda.bf16Copy(cuda.address(tensors[i]), tensors[i].size());
          addresses[i] = copies[i].address();
        } else {
          addresses[i] = cuda.address(tensors[i]);
        }
      }
    }

    @Override
    public void close() {
      for (DeviceAllocator.Block copy : copies) {
        if (copy != null) {
          cuda.release(copy);
        }
      }
    }
  }

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
    try (Inputs in = new Inputs(cuda, mma, q, k, v)) {
      List<Object> args =
          new ArrayList<>(
              List.of(
                  in.addresses[0],
                  in.addresses[1],
                  in.addresses[2],
                  causal ? starts.address() : 0L,
                  cuda.address(out),
                  lse == null ? 0L : cuda.address(lse),
                  b,
                  t,
                  hq,
                  hkv,
                  d,
                  (float) (1.0 / Math.sqrt(d)),
                  causal ? 1 : 0));
      if (mma) {
        // Last before the launch: the output's bf16 shadow, for the GEMM that reads it next.
        args.add(cuda.shadow(out));
      }
      cuda.launch(
          mma ? tensorCoreKernel("forward", d) : "attention_forward",
          new KernelLaunch.Shape(b * hq, tiles(t), 1, mma ? MMA_THREADS : THREADS),
          args.toArray());
    }
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
    try (Inputs in = new Inputs(cuda, mma, q, k, v, dout)) {
      cuda.launch(
          mma ? tensorCoreKernel("dkdv", d) : "attention_backward_dkdv",
          mma
              ? new KernelLaunch.Shape(b * hkv, tiles(t), splits, MMA_THREADS, dkdvSharedBytes(d))
              : new KernelLaunch.Shape(b * hkv, tiles(t), splits, 2 * THREADS),
          in.addresses[0],
          in.addresses[1],
          in.addresses[2],
          in.addresses[3],
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
          in.addresses[0],
          in.addresses[1],
          in.addresses[2],
          in.addresses[3],
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
    }
    cuda.release(delta);
  }

  /** The tensor-core kernel for {@code pass} (forward, dkdv, dq) and head dimension {@code d}. */
  static String tensorCoreKernel(String pass, int d) {
    return "attention_mma_" + pass + "_d" + d;
  }

  /**
   * Dynamic shared memory of the tensor-core dK/dV kernel (attention_mma.cu's header): K, V and two
   * buffers each of Q and dO, 32 rows of d + 8 bf16 apiece, and two buffers of 32 lse, delta and
   * keyStart values.
   */
  static int dkdvSharedBytes(int d) {
    return 6 * TILE * (d + 8) * 2 + 2 * 3 * TILE * 4;
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
