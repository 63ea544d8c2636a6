package dev.tessera.engine.cuda;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.dist.Collective;
import dev.tessera.engine.dist.PeerLostException;
import org.bytedeco.cuda.global.nccl;
import org.bytedeco.cuda.nccl.ncclComm;
import org.bytedeco.cuda.nccl.ncclUniqueId;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;

/**
 * NCCL between the GPUs of a data-parallel job: one communicator per rank (per GPU thread in a
 * node), the tensor collectives (all-reduce, reduce, broadcast, reduce-scatter, all-gather) run on
 * the devices on the backend's stream. Everything else — host arrays, scalars, the barrier — and
 * the exchange of NCCL's unique id go through the host collective the ranks already share (threads
 * in one process, or TCP between nodes). NCCL sums in its own order (rings, trees), not in rank
 * order, so results match the host collectives to fp32 rounding, not bit for bit.
 */
public final class NcclCollective implements Collective {
  /** Bytes of an {@code ncclUniqueId}. */
  static final int UNIQUE_ID_BYTES = 128;

  private final Collective host;
  private final CudaBackend cuda;
  private final ncclComm comm;

  private NcclCollective(Collective host, CudaBackend cuda, ncclComm comm) {
    this.host = host;
    this.cuda = cuda;
    this.comm = comm;
  }

  /**
   * Joins the NCCL communicator of the ranks of {@code host}, this rank on {@code cuda}'s GPU.
   * Every rank calls this at the same time; rank 0 makes the unique id and the host collective
   * hands it to the others. The host collective stays the caller's to close.
   */
  public static NcclCollective open(CudaBackend cuda, Collective host) {
    try {
      Loader.load(nccl.class);
    } catch (LinkageError e) {
      throw new CudaException(
          "cannot load NCCL (libnccl.so.2 must be on LD_LIBRARY_PATH): "
              + Cuda.rootCause(e).getMessage(),
          e);
    }
    byte[] id = new byte[UNIQUE_ID_BYTES];
    if (host.rank() == 0) {
      ncclUniqueId made = new ncclUniqueId();
      check(nccl.ncclGetUniqueId(made), "ncclGetUniqueId");
      for (int i = 0; i < UNIQUE_ID_BYTES; i++) {
        id[i] = made.internal(i);
      }
    }
    float[] shared = encode(id);
    host.broadcast(shared, 0, shared.length, 0);
    id = decode(shared);
    ncclUniqueId uniqueId = new ncclUniqueId();
    for (int i = 0; i < UNIQUE_ID_BYTES; i++) {
      uniqueId.internal(i, id[i]);
    }
    cuda.ensureContext();
    ncclComm comm = new ncclComm();
    check(
        nccl.ncclCommInitRank(comm, host.size(), uniqueId, host.rank()),
        "ncclCommInitRank (rank " + host.rank() + " of " + host.size() + ")");
    return new NcclCollective(host, cuda, comm);
  }

  /** The id's bytes as exact small floats (one per byte), for the host collectives. */
  static float[] encode(byte[] id) {
    float[] values = new float[id.length];
    for (int i = 0; i < id.length; i++) {
      values[i] = id[i] & 0xff;
    }
    return values;
  }

  static byte[] decode(float[] values) {
    byte[] id = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      float value = values[i];
      if (value != Math.rint(value) || value < 0 || value > 255) {
        throw new IllegalArgumentException("not an encoded NCCL id: element " + i + " = " + value);
      }
      id[i] = (byte) (int) value;
    }
    return id;
  }

  /** NCCL's version as it reports it (e.g. 22803 for 2.28.3), or an error. */
  public static int version() {
    int[] version = new int[1];
    check(nccl.ncclGetVersion(version), "ncclGetVersion");
    return version[0];
  }

  private static void check(int status, String operation) {
    if (status != 0) {
      BytePointer text = nccl.ncclGetErrorString(status);
      throw failure(status, operation, text == null ? null : text.getString());
    }
  }

  /** NCCL's "remote error": a peer's process or network went away mid-collective. */
  static final int NCCL_REMOTE_ERROR = 6;

  /**
   * The exception for a failed NCCL call: {@link PeerLostException} when another rank is the cause
   * (so the trainer exits as a rank that lost a peer), else a {@link CudaException}.
   */
  static RuntimeException failure(int status, String operation, String text) {
    String message =
        operation
            + " failed: "
            + (text == null ? "unknown NCCL error" : text)
            + " (ncclResult "
            + status
            + ")";
    CudaException error = new CudaException(message, status);
    return status == NCCL_REMOTE_ERROR ? new PeerLostException(message, error) : error;
  }

  private Pointer at(Tensor tensor) {
    return Cuda.at(cuda.address(tensor));
  }

  @Override
  public void allReduceSum(Tensor tensor) {
    cuda.ensureContext();
    cuda.noteIssued();
    cuda.timed(
        "nccl all-reduce",
        () ->
            check(
                nccl.ncclAllReduce(
                    at(tensor),
                    at(tensor),
                    tensor.size(),
                    nccl.ncclFloat32,
                    nccl.ncclSum,
                    comm,
                    cuda.stream()),
                "ncclAllReduce of " + tensor));
  }

  @Override
  public void reduceSum(Tensor tensor, int root) {
    cuda.ensureContext();
    cuda.noteIssued();
    cuda.timed(
        "nccl reduce",
        () ->
            check(
                nccl.ncclReduce(
                    at(tensor),
                    at(tensor),
                    tensor.size(),
                    nccl.ncclFloat32,
                    nccl.ncclSum,
                    root,
                    comm,
                    cuda.stream()),
                "ncclReduce of " + tensor + " to rank " + root));
  }

  @Override
  public void broadcast(Tensor tensor, int root) {
    cuda.ensureContext();
    cuda.noteIssued();
    cuda.timed(
        "nccl broadcast",
        () ->
            check(
                nccl.ncclBroadcast(
                    at(tensor),
                    at(tensor),
                    tensor.size(),
                    nccl.ncclFloat32,
                    root,
                    comm,
                    cuda.stream()),
                "ncclBroadcast of " + tensor + " from rank " + root));
  }

  @Override
  public void reduceScatterSum(Tensor in, Tensor out) {
    requireChunks(in, out);
    cuda.ensureContext();
    cuda.noteIssued();
    cuda.timed(
        "nccl reduce-scatter",
        () ->
            check(
                nccl.ncclReduceScatter(
                    at(in),
                    at(out),
                    out.size(),
                    nccl.ncclFloat32,
                    nccl.ncclSum,
                    comm,
                    cuda.stream()),
                "ncclReduceScatter of " + in));
  }

  @Override
  public void allGather(Tensor in, Tensor out) {
    requireChunks(out, in);
    cuda.ensureContext();
    cuda.noteIssued();
    cuda.timed(
        "nccl all-gather",
        () ->
            check(
                nccl.ncclAllGather(
                    at(in), at(out), in.size(), nccl.ncclFloat32, comm, cuda.stream()),
                "ncclAllGather of " + in));
  }

  private void requireChunks(Tensor whole, Tensor chunk) {
    if (whole.size() != chunk.size() * size()) {
      throw new IllegalArgumentException(
          whole + " must hold " + size() + " chunks of " + chunk.size() + " elements");
    }
  }

  @Override
  public int rank() {
    return host.rank();
  }

  @Override
  public int size() {
    return host.size();
  }

  @Override
  public void allReduceSum(float[] data, int offset, int length) {
    host.allReduceSum(data, offset, length);
  }

  @Override
  public void reduceSum(float[] data, int offset, int length, int root) {
    host.reduceSum(data, offset, length, root);
  }

  @Override
  public long allReduceSum(long value) {
    return host.allReduceSum(value);
  }

  @Override
  public double allReduceSum(double value) {
    return host.allReduceSum(value);
  }

  @Override
  public void broadcast(float[] data, int offset, int length, int root) {
    host.broadcast(data, offset, length, root);
  }

  @Override
  public void barrier() {
    host.barrier();
  }

  /** Destroys the communicator (the host collective is left open). */
  @Override
  public void close() {
    cuda.ensureContext();
    nccl.ncclCommDestroy(comm);
  }
}
