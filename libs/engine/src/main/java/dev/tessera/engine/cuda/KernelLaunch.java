package dev.tessera.engine.cuda;

import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * Packs kernel arguments for {@code cuLaunchKernel} into one native buffer reused by every launch
 * (8 bytes per argument; the pointer array points at the slots), so a launch allocates nothing.
 * Arguments: {@link Long} for device addresses and 64-bit integers, {@link Integer}, {@link Float}.
 * One instance per backend; launches are serialised and queued on the backend's stream.
 */
final class KernelLaunch implements AutoCloseable {
  static final int MAX_ARGS = 32;

  private final BytePointer slots = new BytePointer(8L * MAX_ARGS);
  private final PointerPointer<?> pointers = new PointerPointer<>(MAX_ARGS);

  private final CUstream_st stream;

  KernelLaunch(CUstream_st stream) {
    this.stream = stream;
    LongPointer addresses = new LongPointer(pointers);
    for (int i = 0; i < MAX_ARGS; i++) {
      addresses.put(i, slots.address() + 8L * i);
    }
  }

  /** Static shared memory a kernel may use without raising its limit, and dynamic likewise. */
  static final int DEFAULT_SHARED_LIMIT = 48 * 1024;

  /** Grid and block dimensions of one launch, and its dynamic shared memory in bytes. */
  record Shape(int gridX, int gridY, int gridZ, int blockX, int sharedBytes) {
    Shape {
      if (gridX < 1 || gridY < 1 || gridZ < 1 || gridY > 65535 || gridZ > 65535) {
        throw new IllegalArgumentException(
            "grid " + gridX + "x" + gridY + "x" + gridZ + " is outside the device's limits");
      }
      if (blockX < 1 || blockX > 1024) {
        throw new IllegalArgumentException("block of " + blockX + " threads");
      }
      // 227 KB: the most an sm_90 block may take (sm_80: 163 KB; the driver refuses beyond).
      if (sharedBytes < 0 || sharedBytes > 227 * 1024) {
        throw new IllegalArgumentException(sharedBytes + " bytes of dynamic shared memory");
      }
    }

    /** No dynamic shared memory. */
    Shape(int gridX, int gridY, int gridZ, int blockX) {
      this(gridX, gridY, gridZ, blockX, 0);
    }

    /** A 1-D grid of {@code blocks} blocks of {@code threads} threads. */
    static Shape linear(long blocks, int threads) {
      return new Shape((int) Math.max(1, Math.min(blocks, Integer.MAX_VALUE)), 1, 1, threads);
    }

    /** Enough blocks of {@code threads} to give each of {@code n} elements a thread, capped. */
    static Shape elementwise(long n, int threads) {
      long blocks = (n + threads - 1) / threads;
      return linear(Math.min(blocks, 65536L * 16), threads);
    }
  }

  synchronized void launch(CUfunc_st function, String name, Shape shape, Object... args) {
    if (args.length > MAX_ARGS) {
      throw new IllegalArgumentException(name + ": " + args.length + " arguments");
    }
    for (int i = 0; i < args.length; i++) {
      long offset = 8L * i;
      Object arg = args[i];
      if (arg instanceof Long value) {
        slots.putLong(offset, value);
      } else if (arg instanceof Integer value) {
        slots.putInt(offset, value);
      } else if (arg instanceof Float value) {
        slots.putFloat(offset, value);
      } else {
        throw new IllegalArgumentException(
            name + ": argument " + i + " has unsupported type " + arg);
      }
    }
    Cuda.checkDriver(
        cudart.cuLaunchKernel(
            function,
            shape.gridX(),
            shape.gridY(),
            shape.gridZ(),
            shape.blockX(),
            1,
            1,
            shape.sharedBytes(),
            stream,
            pointers,
            null),
        "launching kernel " + name);
  }

  @Override
  public void close() {
    slots.close();
    pointers.close();
  }
}
