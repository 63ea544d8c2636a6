package dev.tessera.engine.dist;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.LongBinaryOperator;

/**
 * Ranks as processes (one per node, later one per GPU thread group) connected over TCP in a star:
 * rank 0 listens at the rendezvous address — in a Kubernetes Indexed Job, pod 0's stable DNS name —
 * and every other rank connects to it and says which rank it is. Each collective sends every rank's
 * data to rank 0, which combines it in rank order and sends the result back, so the bits are the
 * same as {@link InProcessCollective}'s. This carries CPU training and the exchange of NCCL's
 * unique id; on GPUs NCCL moves the gradients.
 */
public final class TcpCollective implements Collective {
  private static final int HELLO = 0x54455353; // "TESS"

  private final int rank;
  private final int size;
  private final Socket[] peers; // rank 0: one per other rank; others: peers[0] is rank 0
  private final DataInputStream[] in;
  private final DataOutputStream[] out;
  private final ServerSocket server;

  private TcpCollective(int rank, int size, Socket[] peers, ServerSocket server)
      throws IOException {
    this.rank = rank;
    this.size = size;
    this.peers = peers;
    this.server = server;
    this.in = new DataInputStream[peers.length];
    this.out = new DataOutputStream[peers.length];
    for (int i = 0; i < peers.length; i++) {
      if (peers[i] != null) {
        in[i] = new DataInputStream(new BufferedInputStream(peers[i].getInputStream(), 1 << 16));
        out[i] =
            new DataOutputStream(new BufferedOutputStream(peers[i].getOutputStream(), 1 << 16));
      }
    }
  }

  /**
   * Joins the group: rank 0 listens on {@code rendezvous} and waits for every other rank; the
   * others connect to it, retrying until {@code timeout} (rank 0's pod may start later).
   *
   * @throws IOException when the group is not complete within the timeout, naming who is missing
   */
  public static TcpCollective join(
      int rank, int size, InetSocketAddress rendezvous, Duration timeout) throws IOException {
    if (size < 1 || rank < 0 || rank >= size) {
      throw new IllegalArgumentException("rank " + rank + " of " + size);
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    if (rank == 0) {
      ServerSocket server = new ServerSocket();
      server.setReuseAddress(true);
      server.bind(new InetSocketAddress(rendezvous.getPort()));
      Socket[] peers = new Socket[size];
      try {
        for (int joined = 1; joined < size; joined++) {
          long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
          server.setSoTimeout((int) Math.min(Integer.MAX_VALUE, left));
          Socket socket = server.accept();
          socket.setTcpNoDelay(true);
          DataInputStream hello = new DataInputStream(socket.getInputStream());
          if (hello.readInt() != HELLO) {
            socket.close();
            throw new IOException("a connection to the rendezvous port is not a Tessera rank");
          }
          int peer = hello.readInt();
          int peerSize = hello.readInt();
          if (peer < 1 || peer >= size || peers[peer] != null || peerSize != size) {
            socket.close();
            throw new IOException(
                "rank "
                    + peer
                    + " of "
                    + peerSize
                    + " joined a group of "
                    + size
                    + " twice or wrongly");
          }
          peers[peer] = socket;
        }
      } catch (SocketTimeoutException e) {
        server.close();
        StringBuilder missing = new StringBuilder();
        for (int r = 1; r < size; r++) {
          if (peers[r] == null) {
            missing.append(missing.length() == 0 ? "" : ", ").append(r);
          }
        }
        throw new IOException(
            "ranks " + missing + " did not join " + rendezvous + " within " + timeout, e);
      }
      return new TcpCollective(0, size, peers, server);
    }
    while (true) {
      Socket socket = new Socket();
      try {
        socket.connect(rendezvous, 1000);
        socket.setTcpNoDelay(true);
        DataOutputStream hello = new DataOutputStream(socket.getOutputStream());
        hello.writeInt(HELLO);
        hello.writeInt(rank);
        hello.writeInt(size);
        hello.flush();
        return new TcpCollective(rank, size, new Socket[] {socket}, null);
      } catch (IOException e) {
        socket.close();
        if (System.nanoTime() > deadline) {
          throw new IOException(
              "rank " + rank + " could not reach rank 0 at " + rendezvous + " within " + timeout,
              e);
        }
        try {
          Thread.sleep(200);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted while joining", interrupted);
        }
      }
    }
  }

  @Override
  public int rank() {
    return rank;
  }

  @Override
  public int size() {
    return size;
  }

  @Override
  public void allReduceSum(float[] data, int offset, int length) {
    if (size == 1) {
      return;
    }
    try {
      if (rank == 0) {
        // Sum in rank order: rank 0's values, then rank 1's, ... as InProcessCollective does.
        float[] received = new float[length];
        for (int r = 1; r < size; r++) {
          readFloats(in[r], received, 0, length);
          for (int i = 0; i < length; i++) {
            data[offset + i] += received[i];
          }
        }
        for (int r = 1; r < size; r++) {
          writeFloats(out[r], data, offset, length);
        }
      } else {
        writeFloats(out[0], data, offset, length);
        readFloats(in[0], data, offset, length);
      }
    } catch (IOException e) {
      throw failed(e);
    }
  }

  @Override
  public void reduceSum(float[] data, int offset, int length, int root) {
    if (root < 0 || root >= size) {
      throw new IllegalArgumentException("root " + root + " of " + size + " ranks");
    }
    if (size == 1) {
      return;
    }
    try {
      if (rank == 0) {
        // Sum in rank order into a copy, so rank 0's own values stay as they were unless it is
        // the root.
        float[] sum = Arrays.copyOfRange(data, offset, offset + length);
        float[] received = new float[length];
        for (int r = 1; r < size; r++) {
          readFloats(in[r], received, 0, length);
          for (int i = 0; i < length; i++) {
            sum[i] += received[i];
          }
        }
        if (root == 0) {
          System.arraycopy(sum, 0, data, offset, length);
        } else {
          writeFloats(out[root], sum, 0, length);
        }
      } else {
        writeFloats(out[0], data, offset, length);
        if (rank == root) {
          readFloats(in[0], data, offset, length);
        }
      }
    } catch (IOException e) {
      throw failed(e);
    }
  }

  @Override
  public long allReduceSum(long value) {
    return combine(value, Long::sum);
  }

  @Override
  public double allReduceSum(double value) {
    return Double.longBitsToDouble(
        combine(
            Double.doubleToRawLongBits(value),
            (a, b) ->
                Double.doubleToRawLongBits(
                    Double.longBitsToDouble(a) + Double.longBitsToDouble(b))));
  }

  /** One 64-bit value per rank combined at rank 0 in rank order, the result sent to every rank. */
  private long combine(long value, LongBinaryOperator add) {
    if (size == 1) {
      return value;
    }
    try {
      if (rank == 0) {
        long result = value;
        for (int r = 1; r < size; r++) {
          result = add.applyAsLong(result, in[r].readLong());
        }
        for (int r = 1; r < size; r++) {
          out[r].writeLong(result);
          out[r].flush();
        }
        return result;
      }
      out[0].writeLong(value);
      out[0].flush();
      return in[0].readLong();
    } catch (IOException e) {
      throw failed(e);
    }
  }

  @Override
  public void broadcast(float[] data, int offset, int length, int root) {
    if (root < 0 || root >= size) {
      throw new IllegalArgumentException("root " + root + " of " + size + " ranks");
    }
    if (size == 1) {
      return;
    }
    try {
      if (rank == 0) {
        if (root != 0) {
          readFloats(in[root], data, offset, length);
        }
        for (int r = 1; r < size; r++) {
          if (r != root) {
            writeFloats(out[r], data, offset, length);
          }
        }
      } else if (rank == root) {
        writeFloats(out[0], data, offset, length);
      } else {
        readFloats(in[0], data, offset, length);
      }
    } catch (IOException e) {
      throw failed(e);
    }
  }

  @Override
  public void barrier() {
    allReduceSum(0L);
  }

  private IllegalStateException failed(IOException e) {
    close();
    return new IllegalStateException(
        "rank "
            + rank
            + ": the connection to "
            + (rank == 0 ? "a rank" : "rank 0")
            + " failed: "
            + e.getMessage(),
        e);
  }

  private static void writeFloats(DataOutputStream out, float[] data, int offset, int length)
      throws IOException {
    for (int i = 0; i < length; i++) {
      out.writeInt(Float.floatToRawIntBits(data[offset + i]));
    }
    out.flush();
  }

  private static void readFloats(DataInputStream in, float[] data, int offset, int length)
      throws IOException {
    for (int i = 0; i < length; i++) {
      data[offset + i] = Float.intBitsToFloat(in.readInt());
    }
  }

  /** Closes every connection; ranks waiting on this one fail instead of hanging. */
  @Override
  public void close() {
    for (Socket peer : peers) {
      if (peer != null) {
        try {
          peer.close();
        } catch (IOException e) {
          // Closing anyway.
        }
      }
    }
    if (server != null) {
      try {
        server.close();
      } catch (IOException e) {
        // Closing anyway.
      }
    }
  }
}
