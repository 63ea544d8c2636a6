package dev.tessera.engine.testing;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Device;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.FastMath;
import dev.tessera.engine.ops.AdaptiveAvgPool2d;
import dev.tessera.engine.ops.Add;
import dev.tessera.engine.ops.Attention;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.engine.ops.BidirectionalAttention;
import dev.tessera.engine.ops.CrossEntropy;
import dev.tessera.engine.ops.DeviceKernels;
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
import dev.tessera.engine.optim.GradClip;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * A stand-in for a GPU backend in tests: it reports itself as a device, so every op takes the
 * device path ({@link DeviceKernels}), but computes with the CPU kernels on host arrays. It also
 * enforces {@link Backend#release}: a tensor used after its buffer was released fails the test at
 * once, as it would corrupt memory on a GPU; and {@link Backend#empty} tensors start as NaN, so a
 * read before the first write shows in the results. So model code is checked, without a GPU, for
 * running through the device path unchanged and for releasing only dead temporaries.
 */
public final class CheckingDeviceBackend implements Backend {
  /** A buffer: host values and whether they were released. */
  private static final class Buffer {
    final float[] values;
    boolean released;

    Buffer(int size) {
      values = new float[size];
    }
  }

  private final CpuBackend cpu = CpuBackend.get();
  private long releasedBytes;
  private long allocatedBytes;

  @Override
  public Device device() {
    return Device.CUDA;
  }

  /** Bytes handed back through {@link #release}. */
  public long releasedBytes() {
    return releasedBytes;
  }

  /** Bytes allocated so far. */
  public long allocatedBytes() {
    return allocatedBytes;
  }

  @Override
  public Tensor zeros(int... shape) {
    long size = 1;
    for (int dim : shape) {
      size *= dim;
    }
    allocatedBytes += 4 * size;
    return new Tensor(this, new Buffer(Math.toIntExact(size)), 0, shape);
  }

  /** Filled with NaN: an op that reads before it writes poisons the result. */
  @Override
  public Tensor empty(int... shape) {
    Tensor tensor = zeros(shape);
    Arrays.fill(((Buffer) tensor.storage()).values, Float.NaN);
    return tensor;
  }

  @Override
  public Tensor fromHost(float[] values, int... shape) {
    Tensor tensor = zeros(shape);
    copyFromHost(values, tensor);
    return tensor;
  }

  @Override
  public float[] toHost(Tensor tensor) {
    return cpu.toHost(host(tensor));
  }

  @Override
  public void copyFromHost(float[] values, Tensor target) {
    cpu.copyFromHost(values, host(target));
  }

  @Override
  public void copy(Tensor source, Tensor target) {
    cpu.copy(host(source), host(target));
  }

  @Override
  public void zero(Tensor tensor) {
    cpu.zero(host(tensor));
  }

  /** Tensors declared {@link #onlyForGemms}: false until the op that writes them ran. */
  private final Map<Buffer, Boolean> gemmOnly = new IdentityHashMap<>();

  /**
   * The contract of {@link Backend#onlyForGemms}, checked: the first op to touch the tensor writes
   * it; after that only GEMM operands may read it.
   */
  @Override
  public void onlyForGemms(Tensor... tensors) {
    for (Tensor tensor : tensors) {
      gemmOnly.put((Buffer) tensor.storage(), false);
    }
  }

  /** A GEMM operand: allowed for GEMM-only tensors. */
  private Tensor gemmOperand(Tensor tensor) {
    if (tensor == null) {
      return null;
    }
    Buffer buffer = (Buffer) tensor.storage();
    Boolean produced = gemmOnly.get(buffer);
    if (produced != null && !produced) {
      gemmOnly.put(buffer, true);
    }
    return unchecked(tensor);
  }

  /** Values of the tensors marked immutable, as marked; checked when they are released. */
  private final Map<Tensor, float[]> immutables = new IdentityHashMap<>();

  /** Remembers the values: a write before the tensor's release breaks the promise and fails. */
  @Override
  public void markImmutable(Tensor... tensors) {
    for (Tensor tensor : tensors) {
      immutables.put(tensor, cpu.toHost(unchecked(tensor)));
    }
  }

  @Override
  public void release(Tensor... tensors) {
    for (Tensor tensor : tensors) {
      float[] marked = tensor == null ? null : immutables.remove(tensor);
      if (marked != null && !Arrays.equals(marked, cpu.toHost(unchecked(tensor)))) {
        throw new IllegalStateException(
            tensor + " was marked immutable and written before release");
      }
      if (tensor == null || tensor.offset() != 0) {
        continue;
      }
      Buffer buffer = (Buffer) tensor.storage();
      if (tensor.size() != buffer.values.length) {
        continue;
      }
      if (buffer.released) {
        throw new IllegalStateException(tensor + " released twice");
      }
      gemmOnly.remove(buffer);
      buffer.released = true;
      releasedBytes += 4L * buffer.values.length;
    }
  }

  /**
   * The CPU view of a tensor of this backend for any op but a GEMM operand; refuses released
   * buffers and GEMM-only tensors already written.
   */
  private Tensor host(Tensor tensor) {
    if (tensor == null) {
      return null;
    }
    if (tensor.storage() instanceof Buffer buffer && gemmOnly.containsKey(buffer)) {
      if (gemmOnly.get(buffer)) {
        throw new IllegalStateException(
            tensor + " was declared onlyForGemms and is read by an op other than a GEMM");
      }
      gemmOnly.put(buffer, true); // its writer
    }
    return unchecked(tensor);
  }

  /** The CPU view of a tensor of this backend; refuses released buffers. */
  private Tensor unchecked(Tensor tensor) {
    if (tensor == null) {
      return null;
    }
    if (!(tensor.storage() instanceof Buffer buffer) || tensor.backend() != this) {
      throw new IllegalArgumentException(tensor + " is not a tensor of this backend");
    }
    if (buffer.released) {
      throw new IllegalStateException(tensor + " is used after it was released");
    }
    return new Tensor(cpu, buffer.values, tensor.offset(), tensor.shape());
  }

  @Override
  public DeviceKernels kernels() {
    return kernels;
  }

  private final DeviceKernels kernels =
      new DeviceKernels() {
        @Override
        public void matmulForward(Tensor out, Tensor inp, Tensor weight, Tensor bias) {
          Matmul.forward(host(out), gemmOperand(inp), gemmOperand(weight), host(bias));
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
          if (dbias != null) {
            host(dout); // the bias gradient sums dout outside a GEMM
          }
          Matmul.backward(
              host(dinp),
              host(dweight),
              host(dbias),
              gemmOperand(dout),
              gemmOperand(inp),
              gemmOperand(weight),
              accumulateDinp);
        }

        @Override
        public void embeddingForward(Tensor out, Tensor table, int[] ids, int idsOffset) {
          Embedding.forward(host(out), host(table), ids, idsOffset);
        }

        @Override
        public void embeddingBackward(Tensor dtable, Tensor dout, int[] ids, int idsOffset) {
          Embedding.backward(host(dtable), host(dout), ids, idsOffset);
        }

        @Override
        public void rmsNormForward(Tensor out, Tensor rstd, Tensor inp, Tensor weight, float eps) {
          RmsNorm.forward(host(out), host(rstd), host(inp), host(weight), eps);
        }

        @Override
        public void rmsNormBackward(
            Tensor dinp, Tensor dweight, Tensor dout, Tensor inp, Tensor weight, Tensor rstd) {
          RmsNorm.backward(
              host(dinp), host(dweight), host(dout), host(inp), host(weight), host(rstd));
        }

        @Override
        public void layerNormForward(
            Tensor out,
            Tensor mean,
            Tensor rstd,
            Tensor inp,
            Tensor weight,
            Tensor bias,
            float eps) {
          LayerNorm.forward(
              host(out), host(mean), host(rstd), host(inp), host(weight), host(bias), eps);
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
          LayerNorm.backward(
              host(dinp),
              host(dweight),
              host(dbias),
              host(dout),
              host(inp),
              host(weight),
              host(mean),
              host(rstd));
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
          if (inverse) {
            Rope.backward(
                host(target), host(source), positions, positionsOffset, table, accumulate);
          } else {
            Rope.forward(host(target), host(source), positions, positionsOffset, table);
          }
        }

        @Override
        public void geluForward(Tensor out, Tensor inp) {
          Gelu.forward(host(out), host(inp));
        }

        @Override
        public void geluBackward(Tensor dinp, Tensor dout, Tensor inp) {
          Gelu.backward(host(dinp), host(dout), host(inp));
        }

        @Override
        public void geluErfForward(Tensor out, Tensor inp) {
          GeluErf.forward(host(out), host(inp));
        }

        @Override
        public void geluErfBackward(Tensor dinp, Tensor dout, Tensor inp) {
          GeluErf.backward(host(dinp), host(dout), host(inp));
        }

        @Override
        public void quickGeluForward(Tensor out, Tensor inp) {
          QuickGelu.forward(host(out), host(inp));
        }

        @Override
        public void quickGeluBackward(Tensor dinp, Tensor dout, Tensor inp) {
          QuickGelu.backward(host(dinp), host(dout), host(inp));
        }

        @Override
        public void swiGluForward(Tensor out, Tensor gate, Tensor up) {
          SwiGlu.forward(host(out), host(gate), host(up));
        }

        @Override
        public void swiGluBackward(
            Tensor dgate, Tensor dup, Tensor dout, Tensor gate, Tensor up, boolean accumulate) {
          SwiGlu.backward(host(dgate), host(dup), host(dout), host(gate), host(up), accumulate);
        }

        @Override
        public void add(Tensor out, Tensor a, Tensor b) {
          Add.forward(host(out), host(a), host(b));
        }

        @Override
        public void accumulate(Tensor acc, Tensor x, float alpha) {
          Add.accumulate(host(acc), host(x), alpha);
        }

        @Override
        public void scale(Tensor out, Tensor inp, float s) {
          Scale.forward(host(out), host(inp), s);
        }

        @Override
        public void softmaxForward(Tensor out, Tensor inp) {
          Softmax.forward(host(out), host(inp));
        }

        @Override
        public void softmaxBackward(Tensor dinp, Tensor dout, Tensor out) {
          Softmax.backward(host(dinp), host(dout), host(out));
        }

        @Override
        public void avgPoolForward(
            Tensor out, Tensor inp, int height, int width, int outHeight, int outWidth) {
          AdaptiveAvgPool2d.forward(host(out), host(inp), height, width, outHeight, outWidth);
        }

        @Override
        public void avgPoolBackward(
            Tensor dinp, Tensor dout, int height, int width, int outHeight, int outWidth) {
          AdaptiveAvgPool2d.backward(host(dinp), host(dout), height, width, outHeight, outWidth);
        }

        @Override
        public double crossEntropy(
            Tensor dlogits, Tensor logits, int[] targets, int targetOffset, float lossScale) {
          return CrossEntropy.forwardBackward(
              host(dlogits), host(logits), targets, targetOffset, lossScale);
        }

        @Override
        public void attentionForward(
            Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, int[] keyStart) {
          Attention.forward(
              host(out),
              host(lse),
              host(q),
              host(k),
              host(v),
              AttentionMask.DOCUMENT,
              sampleStarts(keyStart, q.dim(0), q.dim(1)));
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
          Attention.backward(
              host(dq),
              host(dk),
              host(dv),
              host(dout),
              host(q),
              host(k),
              host(v),
              host(out),
              host(lse),
              AttentionMask.DOCUMENT,
              sampleStarts(keyStart, q.dim(0), q.dim(1)));
        }

        @Override
        public void bidirectionalAttentionForward(Tensor out, Tensor q, Tensor k, Tensor v) {
          BidirectionalAttention.forward(host(out), host(q), host(k), host(v));
        }

        @Override
        public double sumSquares(Tensor x) {
          double norm = GradClip.globalNorm(List.of(host(x)));
          return norm * norm;
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
          Tensor hp = host(p);
          Tensor hg = host(g);
          Tensor hm = host(m);
          Tensor hv = host(v);
          if (hm.offset() != hv.offset()) {
            throw new IllegalArgumentException("moments at different offsets");
          }
          FastMath.adamw(
              CpuBackend.data(hp),
              CpuBackend.offset(hp),
              CpuBackend.data(hg),
              CpuBackend.offset(hg),
              CpuBackend.data(hm),
              CpuBackend.data(hv),
              CpuBackend.offset(hm),
              hp.intSize(),
              beta1,
              oneMinusBeta1,
              beta2,
              oneMinusBeta2,
              keep,
              stepSize,
              rsqrtBias2,
              eps,
              gradScale);
        }
      };

  /** The samples' starts of each row, recovered from each query's first visible key. */
  private static int[][] sampleStarts(int[] keyStart, int rows, int t) {
    int[][] starts = new int[rows][];
    for (int b = 0; b < rows; b++) {
      starts[b] = Arrays.stream(keyStart, b * t, (b + 1) * t).distinct().toArray();
    }
    return starts;
  }
}
