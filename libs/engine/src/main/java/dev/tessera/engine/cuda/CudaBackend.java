package dev.tessera.engine.cuda;

import dev.tessera.engine.Backend;
import dev.tessera.engine.DType;
import dev.tessera.engine.Device;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.DeviceKernels;
import java.lang.ref.PhantomReference;
import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.cuda.cudart.CUctx_st;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * fp32 tensors in GPU memory, kernels from {@code src/main/cuda} and GEMMs through cuBLASLt. All of
 * a backend's work — launches, library calls, collectives, copies and fills — is queued in call
 * order on one stream of its own (non-blocking: it does not wait for other streams' work), so
 * results read back by {@link #toHost} are complete and memory released to the allocator may be
 * reused at once. Model code is unchanged: it allocates through this backend and calls the ops,
 * which hand their work to {@link CudaKernels}.
 *
 * <p>Copies between host and device pass through a pinned staging buffer used as a ring ({@link
 * StagingRing}): a copy to the device returns as soon as its values are in pinned memory, and the
 * host waits only for copies back or when the ring wraps onto a copy the device has not reached.
 *
 * <p>Memory: tensors draw blocks from a {@link DeviceAllocator}. Tensors have no explicit free, so
 * a block returns to the allocator's cache when the Java garbage collector finds that no tensor
 * refers to its buffer any more; when the device is full the backend asks for a collection and
 * takes the reclaimed blocks before it reports out-of-memory.
 *
 * <p>The CUDA libraries (libcudart.so.13, libcublasLt.so.13, libnvrtc.so.13) come from the host:
 * put their folders on {@code LD_LIBRARY_PATH}. {@link #open} fails with a message naming what is
 * missing.
 */
public final class CudaBackend implements Backend {
  private static final long STAGING_BYTES = 16L << 20; // pinned host memory for copies

  private final int device;
  private final CUctx_st context = new CUctx_st();
  private final String name;
  private final int major;
  private final int minor;
  private final int multiprocessors;
  private final long totalMemory;
  private final DeviceAllocator allocator;
  private final ReferenceQueue<DeviceBuffer> unreachable = new ReferenceQueue<>();
  private final Set<BufferReference> live = Collections.newSetFromMap(new IdentityHashMap<>());
  private final ThreadLocal<Boolean> contextSet = ThreadLocal.withInitial(() -> false);
  private final KernelModule module;
  private final CUstream_st stream;
  private final KernelLaunch launch;
  private final CublasLt cublasLt;
  private final CublasLt.Precision gemmPrecision;
  private final boolean tensorCoreAttention;
  private final CudaKernels kernels;
  private final Pointer pinned;
  private final ByteBuffer pinnedBytes;
  private final StagingRing<CUevent_st> staging;
  private final ArrayDeque<CUevent_st> spareFences = new ArrayDeque<>();
  private boolean closed;
  private volatile KernelProfile profile;

  /** How fp32 GEMMs may use the tensor cores. */
  public enum GemmPrecision {
    /** Exact fp32 arithmetic (checks against the CPU backend). */
    FP32,
    /** TF32 tensor cores, fp32 accumulation. */
    TF32,
    /**
     * bf16 tensor cores on bf16 copies of the operands, fp32 accumulation and output: the training
     * default.
     */
    BF16
  }

  private final class BufferReference extends PhantomReference<DeviceBuffer> {
    final DeviceAllocator.Block block;

    BufferReference(DeviceBuffer buffer, DeviceAllocator.Block block) {
      super(buffer, unreachable);
      this.block = block;
    }
  }

  private CudaBackend(int device, GemmPrecision precision) {
    this.device = device;
    Cuda.check(cudart.cudaSetDevice(device), "cudaSetDevice(" + device + ")");
    Cuda.check(cudart.cudaFree(null), "initialising the CUDA runtime on device " + device);
    Cuda.checkDriver(
        cudart.cuDevicePrimaryCtxRetain(context, device),
        "retaining the primary context of device " + device);
    contextSet.set(true);
    cudaDeviceProp props = new cudaDeviceProp();
    Cuda.check(cudart.cudaGetDeviceProperties(props, device), "cudaGetDeviceProperties");
    this.name = props.name().getString();
    this.major = props.major();
    this.minor = props.minor();
    this.multiprocessors = props.multiProcessorCount();
    this.totalMemory = props.totalGlobalMem();
    this.stream = createStream(device);
    this.launch = new KernelLaunch(stream);
    PointerPointer<Pointer> host = new PointerPointer<>(1);
    Cuda.check(
        cudart.cudaMallocHost(host, STAGING_BYTES),
        "cudaMallocHost of the " + (STAGING_BYTES >> 20) + " MiB staging buffer");
    this.pinned = host.get(0);
    this.pinnedBytes =
        new BytePointer(pinned)
            .capacity(STAGING_BYTES)
            .limit(STAGING_BYTES)
            .asByteBuffer()
            .order(ByteOrder.nativeOrder());
    this.staging = new StagingRing<>(STAGING_BYTES, new EventFences());
    this.allocator = new DeviceAllocator(new RuntimeMemory(), this::reclaim);
    if ("1".equals(System.getenv("TESSERA_CUDA_TRACE_MEMORY"))) {
      allocator.traced(CudaBackend::allocationSite);
    }
    this.module = KernelModule.load(major, minor);
    this.cublasLt = new CublasLt(allocator, stream);
    this.gemmPrecision = CublasLt.Precision.valueOf(precision.name());
    this.tensorCoreAttention =
        precision == GemmPrecision.BF16
            && major >= 8
            && !"fp32".equalsIgnoreCase(System.getenv("TESSERA_CUDA_ATTENTION"));
    this.kernels = new CudaKernels(this);
  }

  /**
   * Opens GPU {@code device} (0-based).
   *
   * @throws CudaException when the CUDA libraries cannot be loaded or there is no such GPU
   */
  public static CudaBackend open(int device, GemmPrecision precision) {
    loadRuntime();
    int[] count = new int[1];
    int status = cudart.cudaGetDeviceCount(count);
    if (status != 0) {
      throw new CudaException(
          "no usable CUDA device: " + Cuda.runtimeError(status) + " (cudaError " + status + ")",
          status);
    }
    if (device < 0 || device >= count[0]) {
      throw new CudaException(
          "CUDA device " + device + " does not exist; this host has " + count[0], -1);
    }
    return new CudaBackend(device, precision);
  }

  /**
   * The backend's stream: non-blocking, so it neither waits for nor holds up the legacy default
   * stream that other code in the process may use. {@code TESSERA_CUDA_STREAM=default} queues
   * everything on the legacy default stream instead, a diagnostic: a result that differs between
   * the two points at work queued outside the backend's stream.
   */
  private static CUstream_st createStream(int device) {
    if ("default".equalsIgnoreCase(System.getenv("TESSERA_CUDA_STREAM"))) {
      return null;
    }
    CUstream_st stream = new CUstream_st();
    Cuda.check(
        cudart.cudaStreamCreateWithFlags(stream, cudart.cudaStreamNonBlocking),
        "creating a stream on device " + device);
    return stream;
  }

  /** The stream all of this backend's work goes on (null: the legacy default stream). */
  CUstream_st stream() {
    return stream;
  }

  /** Why the CUDA runtime could not be loaded, once it failed (later tries fail the same way). */
  private static volatile String loadFailure;

  /** Loads the CUDA runtime's JNI glue, or says which library is missing. */
  private static void loadRuntime() {
    try {
      Loader.load(cudart.class);
    } catch (LinkageError e) {
      // The first failure is an UnsatisfiedLinkError naming the missing library; later attempts
      // in the same JVM only see the class's failed initialisation, so the first reason is kept.
      if (loadFailure == null) {
        loadFailure = Cuda.rootCause(e).getMessage();
      }
      throw new CudaException(
          "cannot load the CUDA runtime (libcudart.so.13 and the driver's libcuda.so.1 must be on"
              + " LD_LIBRARY_PATH or the system library path): "
              + loadFailure,
          e);
    }
  }

  /** GPUs visible to this process (0 when the CUDA libraries cannot be loaded or see none). */
  public static int deviceCount() {
    try {
      loadRuntime();
    } catch (CudaException e) {
      return 0;
    }
    int[] count = new int[1];
    return cudart.cudaGetDeviceCount(count) == 0 ? count[0] : 0;
  }

  @Override
  public Device device() {
    return Device.CUDA;
  }

  /**
   * e.g. "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB), kernels: fatbin built by nvcc, ...":
   * the card and how this backend uses it.
   */
  public String describe() {
    return String.format(
        java.util.Locale.ROOT,
        "%s (sm_%d%d, %d SMs, %.1f GiB), kernels: %s, GEMMs: %s, attention: %s, stream: %s,"
            + " copies to the device: %s",
        name,
        major,
        minor,
        multiprocessors,
        totalMemory / (double) (1L << 30),
        module.origin(),
        gemmPrecision,
        tensorCoreAttention ? "bf16 tensor cores (head dims 64, 128)" : "fp32",
        stream == null ? "legacy default (TESSERA_CUDA_STREAM=default)" : "own, non-blocking",
        STAGING_WAITS ? "waited for (TESSERA_CUDA_STAGING=wait)" : "queued");
  }

  /**
   * {@code TESSERA_CUDA_STAGING=wait}: each copy to the device waits until the device has made it,
   * so no two copies share the staging ring. A diagnostic next to {@code TESSERA_CUDA_STREAM}: a
   * result that changes with it points at the ring's bookkeeping.
   */
  private static final boolean STAGING_WAITS =
      "wait".equalsIgnoreCase(System.getenv("TESSERA_CUDA_STAGING"));

  /**
   * Whether causal attention with head dimension {@code headDim} runs on the tensor-core kernels
   * ({@code attention_mma.cu}): with the bf16 training precision on sm_80 or newer, for head
   * dimensions 64 and 128; otherwise, and always with {@code TESSERA_CUDA_ATTENTION=fp32}, on the
   * exact fp32 kernels.
   */
  boolean tensorCoreAttention(int headDim) {
    return tensorCoreAttention
        && Arrays.stream(AttentionLaunch.TENSOR_CORE_HEAD_DIMS).anyMatch(d -> d == headDim);
  }

  public DeviceAllocator allocator() {
    return allocator;
  }

  private static final StackWalker STACK = StackWalker.getInstance();

  /**
   * Where a device block is requested, for {@code TESSERA_CUDA_TRACE_MEMORY=1}: the backend's own
   * methods that asked (innermost first), then the first two callers outside this package (the op,
   * then its caller).
   */
  public static String allocationSite() {
    return STACK.walk(
        frames -> {
          List<String> backend = new ArrayList<>();
          StringBuilder site = new StringBuilder();
          int outside = 0;
          for (StackWalker.StackFrame frame : (Iterable<StackWalker.StackFrame>) frames::iterator) {
            String className = frame.getClassName();
            String simple = className.substring(className.lastIndexOf('.') + 1);
            if (className.startsWith("dev.tessera.engine.cuda.")) {
              if (!simple.equals("DeviceAllocator")
                  && !frame.getMethodName().equals("allocationSite")
                  && backend.size() < 3) {
                backend.add(simple + "." + frame.getMethodName());
              }
              continue;
            }
            if (outside == 0) {
              site.append(String.join(" < ", backend));
            }
            if (site.length() > 0) {
              site.append(" <- ");
            }
            site.append(simple)
                .append('.')
                .append(frame.getMethodName())
                .append(':')
                .append(frame.getLineNumber());
            if (++outside == 2) {
              break;
            }
          }
          return site.toString();
        });
  }

  CublasLt.Precision gemmPrecision() {
    return gemmPrecision;
  }

  CublasLt cublasLt() {
    return cublasLt;
  }

  @Override
  public DeviceKernels kernels() {
    return kernels;
  }

  /** Launches kernel {@code name} from this thread (making the device current here first). */
  void launch(String kernel, KernelLaunch.Shape shape, Object... args) {
    ensureContext();
    noteIssued();
    CUfunc_st function = module.function(kernel);
    if (shape.sharedBytes() > KernelLaunch.DEFAULT_SHARED_LIMIT) {
      raiseSharedLimit(kernel, function, shape.sharedBytes());
    }
    timed(kernel, () -> launch.launch(function, kernel, shape, args));
  }

  /** Dynamic shared memory limits raised so far, by kernel. */
  private final Map<String, Integer> sharedLimits = new HashMap<>();

  /** Lets {@code kernel} take {@code bytes} of dynamic shared memory (more than the default). */
  private synchronized void raiseSharedLimit(String kernel, CUfunc_st function, int bytes) {
    if (sharedLimits.getOrDefault(kernel, 0) >= bytes) {
      return;
    }
    Cuda.checkDriver(
        cudart.cuFuncSetAttribute(
            function, cudart.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
        "letting kernel " + kernel + " use " + bytes + " bytes of dynamic shared memory");
    sharedLimits.put(kernel, bytes);
  }

  /**
   * bf16 copies kept for the open {@link #stableWeights} scope, of weights and of tensors marked
   * immutable; null outside a scope.
   */
  private IdentityHashMap<Tensor, DeviceAllocator.Block> scopeCopies;

  /** Tensors marked immutable in the open scope (their copies may be kept like the weights'). */
  private Set<Tensor> immutables;

  @Override
  public synchronized WeightScope stableWeights() {
    if (scopeCopies != null) {
      return () -> {}; // the outer scope governs
    }
    scopeCopies = new IdentityHashMap<>();
    immutables = Collections.newSetFromMap(new IdentityHashMap<>());
    adoptOptimizerCopies();
    return () -> {
      synchronized (this) {
        adoptedOptimizerCopies.clear(); // they stay with the optimizer for its next update
        scopeCopies.values().forEach(this::release);
        scopeCopies = null;
        immutables = null;
        dropShadows();
        gemmOnly.forEach(
            (storage, declared) -> {
              if (declared.produced()) {
                release(declared.block());
                gemmOnlyExpired.add(storage);
              }
            });
        gemmOnly.clear();
      }
    };
  }

  @Override
  public synchronized void markImmutable(Tensor... tensors) {
    if (immutables == null) {
      return;
    }
    for (Tensor tensor : tensors) {
      immutables.add(tensor);
      if (shadowsIssuedAt != issued) {
        continue; // work was issued after the shadows' kernel: they may be stale
      }
      for (int i = 0; i < shadows.size(); i++) {
        Shadow shadow = shadows.get(i);
        if (shadow.storage() == tensor.storage()
            && shadow.offset() == tensor.offset()
            && shadow.size() == tensor.size()
            && !scopeCopies.containsKey(tensor)) {
          scopeCopies.put(tensor, shadow.block());
          shadows.remove(i);
          break;
        }
      }
    }
  }

  /**
   * Device work issued so far: kernel launches, library calls, copies to and fills of device
   * memory, collectives. A shadow (below) is only trusted when nothing was issued after the kernel
   * that wrote it.
   */
  private long issued;

  /** bf16 shadows written by the last launch, not yet adopted by {@link #markImmutable}. */
  private record Shadow(Object storage, long offset, long size, DeviceAllocator.Block block) {}

  private final List<Shadow> shadows = new ArrayList<>();
  private long shadowsIssuedAt = -1;

  /**
   * Called before every piece of work that may write device memory. Shadows of an earlier launch
   * that nobody adopted can no longer be trusted (this work may change their tensors) and go.
   */
  synchronized void noteIssued() {
    if (shadowsIssuedAt <= issued) {
      dropShadows();
    }
    issued++;
  }

  /**
   * Where the launch that follows may write a bf16 copy of {@code tensor}, its output, or 0 when no
   * {@link #stableWeights} scope is open or the GEMMs do not run in bf16. The copy becomes the
   * tensor's scope copy if the tensor is marked immutable before any other work is issued (so the
   * kernel that wrote both is the last writer), saving a conversion pass over it. For a tensor
   * declared {@link #onlyForGemms} the copy is its scope copy at once, and the launch must skip the
   * fp32 values (see {@link #fp32Needed}).
   */
  synchronized long shadow(Tensor tensor) {
    if (scopeCopies == null || gemmPrecision != CublasLt.Precision.BF16) {
      return 0L;
    }
    DeviceAllocator.Block block = scratch(2 * Math.max(1, tensor.size()));
    GemmOnly declared = gemmOnly.get(tensor.storage());
    if (declared != null && !declared.produced() && declared.matches(tensor)) {
      gemmOnly.put(tensor.storage(), declared.producedInto(block));
      // Its fp32 values are never written or read: the memory goes back now (stream order keeps
      // the next user's work after the launch that follows).
      freeWhole(tensor);
      return block.address();
    }
    if (shadowsIssuedAt != issued + 1) {
      dropShadows();
    }
    shadows.add(new Shadow(tensor.storage(), tensor.offset(), tensor.size(), block));
    shadowsIssuedAt = issued + 1;
    return block.address();
  }

  /**
   * Whether the launch writing {@code tensor} must write its fp32 values: false only for a tensor
   * declared {@link #onlyForGemms} whose bf16 copy {@link #shadow} just handed out.
   */
  synchronized boolean fp32Needed(Tensor tensor) {
    GemmOnly declared = gemmOnly.get(tensor.storage());
    return declared == null || !declared.produced() || !declared.matches(tensor);
  }

  /**
   * A tensor declared {@link #onlyForGemms}: the declared extent, and once its writer ran, the
   * block holding its only (bf16) values.
   */
  private record GemmOnly(long offset, long size, DeviceAllocator.Block block) {
    boolean produced() {
      return block != null;
    }

    boolean matches(Tensor tensor) {
      return tensor.offset() == offset && tensor.size() == size;
    }

    GemmOnly producedInto(DeviceAllocator.Block values) {
      return new GemmOnly(offset, size, values);
    }
  }

  /** Declared GEMM-only tensors of the open scope, by storage. */
  private final Map<Object, GemmOnly> gemmOnly = new IdentityHashMap<>();

  /**
   * Storages whose fp32 values were skipped and whose bf16 values are gone with their scope: any
   * later read is refused (weak keys, so the buffers still free themselves).
   */
  private final Set<Object> gemmOnlyExpired =
      Collections.newSetFromMap(new java.util.WeakHashMap<>());

  @Override
  public synchronized void onlyForGemms(Tensor... tensors) {
    if (scopeCopies == null || gemmPrecision != CublasLt.Precision.BF16) {
      return;
    }
    for (Tensor tensor : tensors) {
      if (tensor.storage() instanceof DeviceBuffer && tensor.backend() == this) {
        gemmOnly.put(tensor.storage(), new GemmOnly(tensor.offset(), tensor.size(), null));
      }
    }
  }

  /** Refuses the fp32 address of a tensor that holds only its bf16 values. */
  private void requireFp32Values(Tensor tensor) {
    if (gemmOnly.isEmpty() && gemmOnlyExpired.isEmpty()) {
      return;
    }
    synchronized (this) {
      GemmOnly declared = gemmOnly.get(tensor.storage());
      if ((declared != null && declared.produced()) || gemmOnlyExpired.contains(tensor.storage())) {
        throw new IllegalStateException(
            tensor
                + " was declared Backend.onlyForGemms and holds only the bf16 values its GEMMs"
                + " read; an op other than a GEMM operand read it");
      }
    }
  }

  /** Hands back the shadows not adopted (left from an earlier launch, or at a scope's end). */
  private void dropShadows() {
    shadows.forEach(shadow -> release(shadow.block()));
    shadows.clear();
  }

  /** A tensor's place: its storage (compared by identity), offset and element count. */
  private record Extent(Object storage, long offset, long size) {
    static Extent of(Tensor tensor) {
      return new Extent(tensor.storage(), tensor.offset(), tensor.size());
    }
  }

  /**
   * A bf16 copy of a weight that the optimizer writes with each update, and the pass it last did.
   */
  private record OptimizerCopy(DeviceAllocator.Block block, long pass) {}

  /**
   * The optimizer's bf16 weight copies, by the weights' extents; they live as long as the backend.
   */
  private final Map<Extent, OptimizerCopy> optimizerCopies = new HashMap<>();

  /** Optimizer copies valid for the open scope (weights read as GEMM operands find them here). */
  private final Map<Extent, DeviceAllocator.Block> adoptedOptimizerCopies = new HashMap<>();

  /** The optimizer's current pass (a run of updates with no other device work in between). */
  private long optimizerPass;

  /** {@link #issued} right after the optimizer's last launch. */
  private long optimizerIssuedAt = -1;

  /**
   * Where the optimizer's next launch, which updates weight {@code p}, writes the bf16 copy of the
   * new values, or 0 when the GEMMs do not run in bf16. Call just before that launch and {@link
   * #optimizerLaunched} just after.
   */
  synchronized long optimizerCopy(Tensor p) {
    if (gemmPrecision != CublasLt.Precision.BF16) {
      return 0L;
    }
    if (optimizerIssuedAt != issued) {
      optimizerPass++; // other work since the last update: this is a new pass
    }
    Extent extent = Extent.of(p);
    OptimizerCopy copy = optimizerCopies.get(extent);
    DeviceAllocator.Block block =
        copy != null ? copy.block() : allocator.allocate(2 * Math.max(1, p.size()));
    optimizerCopies.put(extent, new OptimizerCopy(block, optimizerPass));
    return block.address();
  }

  synchronized void optimizerLaunched() {
    optimizerIssuedAt = issued;
  }

  /**
   * At the opening of a scope: when nothing was issued since the optimizer's last launch, the
   * copies its last pass wrote hold the weights' current values and serve as their GEMM operands.
   */
  private void adoptOptimizerCopies() {
    if (optimizerIssuedAt != issued) {
      return;
    }
    optimizerCopies.forEach(
        (extent, copy) -> {
          if (copy.pass() == optimizerPass) {
            adoptedOptimizerCopies.put(extent, copy.block());
          }
        });
  }

  /** A GEMM operand's device address and the scratch block to release after use (or null). */
  record Operand(long address, DeviceAllocator.Block owned) {}

  /**
   * A bf16 copy of a GEMM operand: inside a {@link #stableWeights} scope, for a weight ({@code
   * weight} true) or a tensor marked immutable, the scope's copy (made on first use, dropped when
   * the tensor is released or the scope closes); otherwise a fresh copy the caller releases.
   */
  synchronized Operand bf16Operand(Tensor tensor, boolean weight) {
    GemmOnly declared = gemmOnly.get(tensor.storage());
    if (declared != null && declared.produced()) {
      if (!declared.matches(tensor)) {
        throw new IllegalStateException(
            tensor + " is part of a Backend.onlyForGemms tensor; GEMMs must read it whole");
      }
      return new Operand(declared.block().address(), null);
    }
    if (weight && !adoptedOptimizerCopies.isEmpty()) {
      DeviceAllocator.Block fromOptimizer = adoptedOptimizerCopies.get(Extent.of(tensor));
      if (fromOptimizer != null) {
        return new Operand(fromOptimizer.address(), null);
      }
    }
    boolean keep = scopeCopies != null && (weight || immutables.contains(tensor));
    if (!keep) {
      DeviceAllocator.Block copy = bf16Copy(address(tensor), tensor.size());
      return new Operand(copy.address(), copy);
    }
    DeviceAllocator.Block copy = scopeCopies.get(tensor);
    if (copy == null) {
      copy = bf16Copy(address(tensor), tensor.size());
      scopeCopies.put(tensor, copy);
    }
    return new Operand(copy.address(), null);
  }

  /** Hands back an operand's scratch block, when it owns one. */
  void release(Operand operand) {
    if (operand.owned() != null) {
      release(operand.owned());
    }
  }

  /**
   * A bf16 copy (rounded to nearest even) of {@code count} floats at {@code address}, in a scratch
   * block the caller releases.
   */
  DeviceAllocator.Block bf16Copy(long address, long count) {
    DeviceAllocator.Block copy = scratch(2 * Math.max(1, count));
    // Aligned sources go eight floats at a time (the copy is block-aligned); the rest one by one.
    long vectors = address % 16 == 0 ? count / 8 : 0;
    if (vectors > 0) {
      launch(
          "convert_f32_to_bf16_vec8",
          KernelLaunch.Shape.elementwise(vectors, 256),
          address,
          copy.address(),
          Math.toIntExact(vectors));
    }
    long done = 8 * vectors;
    if (done < count) {
      launch(
          "convert_f32_to_bf16",
          KernelLaunch.Shape.elementwise(count - done, 256),
          address + 4 * done,
          copy.address() + 2 * done,
          Math.toIntExact(count - done));
    }
    return copy;
  }

  /**
   * Starts (or, with null, stops) attributing device time to operations (see {@link
   * KernelProfile}). The times measured so far reach the previous profile before this returns.
   */
  public void profile(KernelProfile profile) {
    synchronized (timings) {
      KernelProfile previous = this.profile;
      if (previous != null) {
        addTimings(previous);
      }
      this.profile = profile;
    }
  }

  /** An operation between two events on the stream, not yet read. */
  private record Timing(String name, CUevent_st start, CUevent_st end) {}

  private final List<Timing> timings = new ArrayList<>();
  private final ArrayDeque<CUevent_st> spareTimers = new ArrayDeque<>();

  /** Timings held before they are read (each holds two events). */
  private static final int TIMINGS_HELD = 4096;

  /**
   * Runs {@code work}; when profiling, between two events recorded on the stream, so that the
   * device time from the end of the previous work to the end of this one is charged to {@code
   * name}. The host does not wait: the events are read in batches.
   */
  void timed(String name, Runnable work) {
    KernelProfile current = profile;
    if (current == null) {
      work.run();
      return;
    }
    CUevent_st start = recordTimer();
    work.run();
    CUevent_st end = recordTimer();
    synchronized (timings) {
      timings.add(new Timing(name, start, end));
      if (timings.size() >= TIMINGS_HELD) {
        addTimings(current);
      }
    }
  }

  /** Device seconds that {@code work} takes, measured between events (waits for it). */
  double deviceSeconds(Runnable work) {
    CUevent_st start = recordTimer();
    work.run();
    CUevent_st end = recordTimer();
    double seconds = elapsedSeconds(start, end);
    recycle(spareTimers, start, end);
    return seconds;
  }

  private CUevent_st recordTimer() {
    return recordEvent(spareTimers, cudart.cudaEventDefault, "for timing");
  }

  /** Records an event on the stream: a spare one from {@code spares}, or a new one. */
  private CUevent_st recordEvent(ArrayDeque<CUevent_st> spares, int flags, String purpose) {
    ensureContext();
    CUevent_st event;
    synchronized (spares) {
      event = spares.poll();
    }
    if (event == null) {
      event = new CUevent_st();
      Cuda.check(cudart.cudaEventCreateWithFlags(event, flags), "creating an event " + purpose);
    }
    Cuda.check(cudart.cudaEventRecord(event, stream), "recording an event " + purpose);
    return event;
  }

  /** Events whose work has run, kept for {@link #recordEvent}. */
  private static void recycle(ArrayDeque<CUevent_st> spares, CUevent_st... events) {
    synchronized (spares) {
      for (CUevent_st event : events) {
        spares.push(event);
      }
    }
  }

  private double elapsedSeconds(CUevent_st start, CUevent_st end) {
    Cuda.check(cudart.cudaEventSynchronize(end), "waiting for a timing event");
    float[] millis = new float[1];
    Cuda.check(cudart.cudaEventElapsedTime(millis, start, end), "reading a timing event");
    return millis[0] / 1e3;
  }

  /** Reads the held timings into {@code profile} and recycles their events. */
  private void addTimings(KernelProfile profile) {
    for (Timing timing : timings) {
      profile.add(timing.name(), Math.round(elapsedSeconds(timing.start(), timing.end()) * 1e9));
      recycle(spareTimers, timing.start(), timing.end());
    }
    timings.clear();
  }

  /** Device address of a tensor's first element. */
  long address(Tensor tensor) {
    if (!(tensor.storage() instanceof DeviceBuffer buffer) || tensor.backend() != this) {
      throw new IllegalArgumentException(tensor + " is not a tensor of this CUDA backend");
    }
    requireFp32Values(tensor);
    return buffer.address() + tensor.offset() * tensor.dtype().bytes();
  }

  @Override
  public Tensor zeros(int... shape) {
    Tensor tensor = allocate(DType.F32, shape);
    zero(tensor);
    return tensor;
  }

  @Override
  public Tensor empty(int... shape) {
    return allocate(DType.F32, shape);
  }

  /** A new tensor of {@code dtype} whose contents are undefined. */
  Tensor allocate(DType dtype, int... shape) {
    ensureOpen();
    ensureContext();
    long elements = 1;
    for (int dim : shape) {
      if (dim < 0) {
        throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
      }
      elements *= dim;
    }
    drainUnreachable();
    DeviceAllocator.Block block = allocator.allocate(elements * dtype.bytes());
    DeviceBuffer buffer =
        new DeviceBuffer(block.address(), block.bytes(), elements * dtype.bytes());
    BufferReference reference = new BufferReference(buffer, block);
    buffer.owner(reference);
    synchronized (live) {
      live.add(reference);
    }
    return new Tensor(this, dtype, buffer, 0, shape);
  }

  @Override
  public void release(Tensor... tensors) {
    for (Tensor tensor : tensors) {
      dropScopeCopy(tensor);
      if (tensor != null && tensor.backend() == this) {
        freeWhole(tensor);
      }
    }
  }

  /** A released tensor's scope copy goes with it (its memory may hold something else next). */
  private synchronized void dropScopeCopy(Tensor tensor) {
    if (tensor != null && tensor.offset() == 0) {
      GemmOnly declared = gemmOnly.remove(tensor.storage());
      if (declared != null && declared.produced()) {
        release(declared.block());
      }
      gemmOnlyExpired.remove(tensor.storage());
    }
    if (scopeCopies != null && tensor != null) {
      immutables.remove(tensor);
      DeviceAllocator.Block copy = scopeCopies.remove(tensor);
      if (copy != null) {
        release(copy);
      }
    }
  }

  /**
   * Frees the buffer behind {@code tensor} when the tensor spans all of it (a view of part of a
   * buffer frees nothing) and it is not freed already.
   */
  private void freeWhole(Tensor tensor) {
    if (tensor.offset() != 0
        || !(tensor.storage() instanceof DeviceBuffer buffer)
        || tensor.size() * tensor.dtype().bytes() != buffer.usedBytes()) {
      return;
    }
    if (buffer.markReleased()) {
      BufferReference reference = (BufferReference) buffer.owner();
      reference.clear();
      free(reference);
    }
  }

  /** A scratch block of {@code bytes} (released by the caller with {@link #release}). */
  DeviceAllocator.Block scratch(long bytes) {
    drainUnreachable();
    return allocator.allocate(bytes);
  }

  void release(DeviceAllocator.Block block) {
    allocator.release(block);
  }

  @Override
  public Tensor fromHost(float[] values, int... shape) {
    Tensor tensor = allocate(DType.F32, shape);
    copyFromHost(values, tensor);
    return tensor;
  }

  @Override
  public float[] toHost(Tensor tensor) {
    requireF32(tensor);
    float[] values = new float[tensor.intSize()];
    copyToHost(
        address(tensor),
        4L * values.length,
        (region, firstByte) ->
            region.asFloatBuffer().get(values, firstByte / 4, region.remaining() / 4),
        tensor.toString());
    return values;
  }

  @Override
  public void copyFromHost(float[] values, Tensor target) {
    requireF32(target);
    target.requireSize("copy target", values.length);
    noteIssued();
    copyToDevice(
        address(target),
        4L * values.length,
        (region, firstByte) ->
            region.asFloatBuffer().put(values, firstByte / 4, region.remaining() / 4),
        target.toString());
  }

  /** Moves one chunk of a copy between a host array and a region of the staging buffer. */
  @FunctionalInterface
  private interface HostSide {
    /**
     * {@code region}: the chunk's bytes in pinned memory, from position to limit; {@code
     * firstByte}: where the chunk starts in the whole copy.
     */
    void transfer(ByteBuffer region, int firstByte);
  }

  /** Copies go through the ring in chunks of at most this many bytes, so several are in flight. */
  private static final long CHUNK_BYTES = STAGING_BYTES / 4;

  /**
   * Queues a copy of {@code bytes} bytes to device address {@code address}, filled chunk by chunk
   * into the staging buffer by {@code host}. Returns once the values are in pinned memory: the
   * host's array may change at once.
   */
  private void copyToDevice(long address, long bytes, HostSide host, String what) {
    ensureContext();
    synchronized (staging) {
      for (long from = 0; from < bytes; from += CHUNK_BYTES) {
        long count = Math.min(CHUNK_BYTES, bytes - from);
        long offset = staging.reserve(count);
        host.transfer(region(offset, count), Math.toIntExact(from));
        long destination = address + from;
        timed(
            "host-to-device copy",
            () ->
                Cuda.check(
                    cudart.cudaMemcpyAsync(
                        Cuda.at(destination),
                        Cuda.at(pinned.address() + offset),
                        count,
                        cudart.cudaMemcpyHostToDevice,
                        stream),
                    "copying " + count + " bytes to " + what));
        staging.queued(recordFence());
        if (STAGING_WAITS) {
          staging.awaitAll();
        }
      }
    }
  }

  /**
   * Copies {@code bytes} bytes at device address {@code address} to the host once the work queued
   * before has run, handing each chunk to {@code host}.
   */
  private void copyToHost(long address, long bytes, HostSide host, String what) {
    ensureContext();
    synchronized (staging) {
      for (long from = 0; from < bytes; from += CHUNK_BYTES) {
        long count = Math.min(CHUNK_BYTES, bytes - from);
        long offset = staging.reserve(count);
        Cuda.check(
            cudart.cudaMemcpyAsync(
                Cuda.at(pinned.address() + offset),
                Cuda.at(address + from),
                count,
                cudart.cudaMemcpyDeviceToHost,
                stream),
            "copying " + count + " bytes of " + what + " to the host");
        staging.queued(recordFence());
        staging.awaitAll();
        host.transfer(region(offset, count), Math.toIntExact(from));
      }
    }
  }

  /** A view of {@code count} bytes of the staging buffer at {@code offset}, in native order. */
  private ByteBuffer region(long offset, long count) {
    return pinnedBytes
        .duplicate()
        .position(Math.toIntExact(offset))
        .limit(Math.toIntExact(offset + count))
        .slice()
        .order(ByteOrder.nativeOrder());
  }

  /** The staging ring's fences: events recorded on the stream after each copy. */
  private final class EventFences implements StagingRing.Fences<CUevent_st> {
    @Override
    public void await(CUevent_st fence) {
      Cuda.check(cudart.cudaEventSynchronize(fence), "waiting for a copy through pinned memory");
    }

    @Override
    public void retire(CUevent_st fence) {
      recycle(spareFences, fence);
    }
  }

  private CUevent_st recordFence() {
    return recordEvent(spareFences, cudart.cudaEventDisableTiming, "after a copy");
  }

  /**
   * Host ints on the device, for ids, positions, targets and masks. The same values are asked for
   * again and again (every layer rotates by the same positions and masks by the same samples): so
   * the last {@link #INT_CACHE_ENTRIES} arrays stay on the device, found again by content, and are
   * copied once. The block belongs to the cache: callers must not release it.
   */
  DeviceAllocator.Block deviceInts(int[] values, int offset, int count) {
    int hash = 1;
    for (int i = offset; i < offset + count; i++) {
      hash = 31 * hash + values[i];
    }
    IntsKey key = new IntsKey(hash, count);
    synchronized (intCache) {
      CachedInts cached = intCache.get(key);
      if (cached != null
          && Arrays.equals(cached.values(), 0, count, values, offset, offset + count)) {
        return cached.block();
      }
      DeviceAllocator.Block block = upload(values, offset, count);
      CachedInts previous =
          intCache.put(
              key, new CachedInts(Arrays.copyOfRange(values, offset, offset + count), block));
      if (previous != null) {
        release(previous.block());
      }
      return block;
    }
  }

  /** Device int arrays kept for reuse (see {@link #deviceInts}). */
  static final int INT_CACHE_ENTRIES = 64;

  private record IntsKey(int hash, int count) {}

  private record CachedInts(int[] values, DeviceAllocator.Block block) {}

  private final Map<IntsKey, CachedInts> intCache =
      new LinkedHashMap<>(16, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<IntsKey, CachedInts> eldest) {
          if (size() > INT_CACHE_ENTRIES) {
            release(eldest.getValue().block());
            return true;
          }
          return false;
        }
      };

  /** Copies host ints into a scratch block (for ids, positions, targets and masks). */
  DeviceAllocator.Block upload(int[] values, int offset, int count) {
    ensureContext();
    DeviceAllocator.Block block = scratch(4L * Math.max(1, count));
    copyToDevice(
        block.address(),
        4L * count,
        (region, firstByte) ->
            region.asIntBuffer().put(values, offset + firstByte / 4, region.remaining() / 4),
        count + " ints (ids, positions, masks)");
    return block;
  }

  /** Reads {@code count} floats at a device address (small results: losses, norms). */
  float[] download(long address, int count) {
    float[] values = new float[count];
    copyToHost(
        address,
        4L * count,
        (region, firstByte) ->
            region.asFloatBuffer().get(values, firstByte / 4, region.remaining() / 4),
        count + " floats");
    return values;
  }

  /** Reads one double at a device address. */
  double downloadDouble(long address) {
    double[] value = new double[1];
    copyToHost(address, 8, (region, firstByte) -> value[0] = region.getDouble(0), "a double");
    return value[0];
  }

  void memset(long address, long bytes) {
    ensureContext();
    noteIssued();
    timed(
        "zero fill",
        () ->
            Cuda.check(
                cudart.cudaMemsetAsync(Cuda.at(address), 0, bytes, stream),
                "cudaMemsetAsync of " + bytes + " bytes"));
  }

  @Override
  public void copy(Tensor source, Tensor target) {
    requireF32(source);
    requireF32(target);
    target.requireSize("copy target", source.size());
    ensureContext();
    long to = address(target);
    long from = address(source);
    noteIssued();
    timed(
        "device copy",
        () ->
            Cuda.check(
                cudart.cudaMemcpyAsync(
                    Cuda.at(to),
                    Cuda.at(from),
                    4L * source.size(),
                    cudart.cudaMemcpyDeviceToDevice,
                    stream),
                "copying " + source + " to " + target));
  }

  @Override
  public void zero(Tensor tensor) {
    memset(address(tensor), tensor.size() * tensor.dtype().bytes());
  }

  @Override
  public void synchronize() {
    ensureContext();
    Cuda.check(cudart.cudaStreamSynchronize(stream), "waiting for the device (a kernel failed)");
  }

  /** Fills a tensor with uniform values in {@code [lo, hi)} from a seeded hash (on the device). */
  public void fillUniform(Tensor tensor, int seed, float lo, float hi) {
    requireF32(tensor);
    launch(
        "fill_uniform",
        KernelLaunch.Shape.elementwise(tensor.size(), 256),
        address(tensor),
        tensor.intSize(),
        seed,
        lo,
        hi);
  }

  /** Device memory: free and total as the driver reports them, plus the allocator's counts. */
  public String memoryReport() {
    ensureContext();
    SizeTPointer free = new SizeTPointer(1);
    SizeTPointer total = new SizeTPointer(1);
    Cuda.check(cudart.cudaMemGetInfo(free, total), "cudaMemGetInfo");
    return String.format(
        java.util.Locale.ROOT,
        "device %.2f of %.2f GiB free; tensors %.2f GiB (peak %.2f), cache %.2f GiB;"
            + " %d device allocations, %d reuses",
        free.get() / (double) (1L << 30),
        total.get() / (double) (1L << 30),
        allocator.inUseBytes() / (double) (1L << 30),
        allocator.peakInUseBytes() / (double) (1L << 30),
        allocator.cachedBytes() / (double) (1L << 30),
        allocator.rawAllocations(),
        allocator.reuses());
  }

  private void requireF32(Tensor tensor) {
    if (tensor.dtype() != DType.F32) {
      throw new IllegalArgumentException(tensor + " is " + tensor.dtype() + ", expected F32");
    }
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("the CUDA backend is closed");
    }
  }

  void ensureContext() {
    if (!contextSet.get()) {
      Cuda.checkDriver(cudart.cuCtxSetCurrent(context), "making device " + device + " current");
      contextSet.set(true);
    }
  }

  /** Returns the blocks of tensors that are no longer reachable to the allocator. */
  private void drainUnreachable() {
    Reference<? extends DeviceBuffer> reference;
    while ((reference = unreachable.poll()) != null) {
      free((BufferReference) reference);
    }
  }

  private void free(BufferReference reference) {
    synchronized (live) {
      if (!live.remove(reference)) {
        return;
      }
    }
    allocator.release(reference.block);
  }

  /**
   * Collects garbage and takes back the blocks of tensors no longer reachable: the allocator's
   * out-of-memory hook, and the way to start a peak measurement from live tensors only.
   */
  public void reclaim() {
    for (int attempt = 0; attempt < 3; attempt++) {
      System.gc();
      try {
        Reference<? extends DeviceBuffer> reference = unreachable.remove(200);
        while (reference != null) {
          free((BufferReference) reference);
          reference = unreachable.poll();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    synchronize();
    closed = true;
    synchronized (intCache) {
      intCache.values().forEach(cached -> allocator.release(cached.block()));
      intCache.clear();
    }
    cublasLt.close();
    launch.close();
    synchronized (staging) {
      staging.awaitAll();
    }
    for (ArrayDeque<CUevent_st> spares : List.of(spareFences, spareTimers)) {
      synchronized (spares) {
        spares.forEach(cudart::cudaEventDestroy);
        spares.clear();
      }
    }
    synchronized (timings) {
      for (Timing timing : timings) {
        cudart.cudaEventDestroy(timing.start());
        cudart.cudaEventDestroy(timing.end());
      }
      timings.clear();
    }
    cudart.cudaFreeHost(pinned);
    synchronized (live) {
      for (BufferReference reference : live) {
        allocator.release(reference.block);
      }
      live.clear();
    }
    allocator.releaseCached();
    if (stream != null) {
      cudart.cudaStreamDestroy(stream);
    }
  }

  /**
   * cudaMalloc / cudaFree; an out-of-memory status becomes 0 so the allocator can react. A block
   * goes back to the driver only after the stream has run everything queued, which may still use
   * it.
   */
  private final class RuntimeMemory implements DeviceAllocator.RawMemory {
    @Override
    public long allocate(long bytes) {
      PointerPointer<Pointer> out = new PointerPointer<>(1);
      int status = cudart.cudaMalloc(out, bytes);
      if (status == cudart.cudaErrorMemoryAllocation) {
        cudart.cudaGetLastError(); // clear the sticky-free error so later calls don't see it
        return 0;
      }
      Cuda.check(status, "cudaMalloc of " + bytes + " bytes");
      return out.get(0).address();
    }

    @Override
    public void free(long address) {
      Cuda.check(cudart.cudaStreamSynchronize(stream), "waiting for the stream before cudaFree");
      Cuda.check(cudart.cudaFree(Cuda.at(address)), "cudaFree");
    }
  }
}
