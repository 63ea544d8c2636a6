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
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
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

  /**
   * How long a rank waits for another's part of a collective before it gives up on it: long enough
   * for rank 0 to write a full checkpoint while the others wait in the next step.
   */
  public static final Duration ANSWER_TIMEOUT = Duration.ofMinutes(30);

  /** Floats per chunk through the sockets: one conversion buffer of 256 KiB. */
  private static final int CHUNK = 1 << 16;

  private final int rank;
  private final int size;
  private final Socket[] peers; // rank 0: one per other rank; others: peers[0] is rank 0
  private final DataInputStream[] in;
  private final DataOutputStream[] out;
  private final ServerSocket server;
  private final Duration answerTimeout;
  private final byte[] bytes = new byte[CHUNK * Float.BYTES];
  private final FloatBuffer floats =
      ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();

  private TcpCollective(
      int rank, int size, Socket[] peers, ServerSocket server, Duration answerTimeout)
      throws IOException {
    this.rank = rank;
    this.size = size;
    this.peers = peers;
    this.server = server;
    this.answerTimeout = answerTimeout;
    // Rank 0 gives up on a silent rank first, naming it; the others wait a minute longer for
    // rank 0's verdict instead of blaming rank 0 for another rank's silence.
    long waitMillis = answerTimeout.toMillis() + (rank == 0 ? 0 : 60_000);
    for (Socket peer : peers) {
      if (peer != null) {
        peer.setSoTimeout((int) Math.min(Integer.MAX_VALUE, waitMillis));
      }
    }
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
   * Joins the group, giving up on a rank that sends nothing for {@link #ANSWER_TIMEOUT} in a
   * collective: rank 0 listens on {@code rendezvous} and waits for every other rank; the others
   * connect to it, retrying until {@code timeout} (rank 0's pod may start later).
   *
   * @throws IOException when the group is not complete within the timeout, naming who is missing
   */
  public static TcpCollective join(
      int rank, int size, InetSocketAddress rendezvous, Duration timeout) throws IOException {
    return join(rank, size, rendezvous, timeout, ANSWER_TIMEOUT);
  }

  /**
   * {@link #join(int, int, InetSocketAddress, Duration)}, giving up on a rank that does not send
   * its part of a collective within {@code answerTimeout} ({@link PeerLostException}).
   */
  public static TcpCollective join(
      int rank, int size, InetSocketAddress rendezvous, Duration timeout, Duration answerTimeout)
      throws IOException {
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
      return new TcpCollective(0, size, peers, server, answerTimeout);
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
        return new TcpCollective(rank, size, new Socket[] {socket}, null, answerTimeout);
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
    if (rank == 0) {
      // Sum in rank order: rank 0's values, then rank 1's, ... as InProcessCollective does.
      float[] received = new float[length];
      for (int r = 1; r < size; r++) {
        receive(r, received, 0, length);
        for (int i = 0; i < length; i++) {
          data[offset + i] += received[i];
        }
      }
      for (int r = 1; r < size; r++) {
        send(r, data, offset, length);
      }
    } else {
      send(0, data, offset, length);
      receive(0, data, offset, length);
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
    if (rank == 0) {
      // Sum in rank order into a copy, so rank 0's own values stay as they were unless it is
      // the root.
      float[] sum = Arrays.copyOfRange(data, offset, offset + length);
      float[] received = new float[length];
      for (int r = 1; r < size; r++) {
        receive(r, received, 0, length);
        for (int i = 0; i < length; i++) {
          sum[i] += received[i];
        }
      }
      if (root == 0) {
        System.arraycopy(sum, 0, data, offset, length);
      } else {
        send(root, sum, 0, length);
      }
    } else {
      send(0, data, offset, length);
      if (rank == root) {
        receive(0, data, offset, length);
      }
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
    if (rank == 0) {
      long result = value;
      for (int r = 1; r < size; r++) {
        result = add.applyAsLong(result, receiveLong(r));
      }
      for (int r = 1; r < size; r++) {
        sendLong(r, result);
      }
      return result;
    }
    sendLong(0, value);
    return receiveLong(0);
  }

  @Override
  public void broadcast(float[] data, int offset, int length, int root) {
    if (root < 0 || root >= size) {
      throw new IllegalArgumentException("root " + root + " of " + size + " ranks");
    }
    if (size == 1) {
      return;
    }
    if (rank == 0) {
      if (root != 0) {
        receive(root, data, offset, length);
      }
      for (int r = 1; r < size; r++) {
        if (r != root) {
          send(r, data, offset, length);
        }
      }
    } else if (rank == root) {
      send(0, data, offset, length);
    } else {
      receive(0, data, offset, length);
    }
  }

  @Override
  public void barrier() {
    allReduceSum(0L);
  }

  /** Sends {@code data[offset, offset + length)} to {@code peer}, a chunk at a time. */
  private void send(int peer, float[] data, int offset, int length) {
    try {
      for (int done = 0; done < length; ) {
        int n = Math.min(CHUNK, length - done);
        floats.clear();
        floats.put(data, offset + done, n);
        out[peer].write(bytes, 0, n * Float.BYTES);
        done += n;
      }
      out[peer].flush();
    } catch (IOException e) {
      throw lost(peer, e);
    }
  }

  /** Receives {@code length} floats from {@code peer} into {@code data[offset, ...)}. */
  private void receive(int peer, float[] data, int offset, int length) {
    try {
      for (int done = 0; done < length; ) {
        int n = Math.min(CHUNK, length - done);
        in[peer].readFully(bytes, 0, n * Float.BYTES);
        floats.clear();
        floats.get(data, offset + done, n);
        done += n;
      }
    } catch (IOException e) {
      throw lost(peer, e);
    }
  }

  private void sendLong(int peer, long value) {
    try {
      out[peer].writeLong(value);
      out[peer].flush();
    } catch (IOException e) {
      throw lost(peer, e);
    }
  }

  private long receiveLong(int peer) {
    try {
      return in[peer].readLong();
    } catch (IOException e) {
      throw lost(peer, e);
    }
  }

  /**
   * Closes every connection, so that ranks waiting on this one fail at once too, and says which
   * rank was lost. {@code peer} indexes {@link #in}: another rank on rank 0, rank 0 elsewhere.
   */
  private PeerLostException lost(int peer, IOException e) {
    close();
    String who = rank == 0 ? "rank " + peer : "rank 0";
    String what =
        e instanceof SocketTimeoutException
            ? who + " did not answer within " + describe(answerTimeout) + " (hung or stopped)"
            : "the connection to " + who + " failed: " + e.getMessage();
    return new PeerLostException("rank " + rank + ": " + what, e);
  }

  private static String describe(Duration duration) {
    return duration.toSeconds() < 120
        ? duration.toMillis() / 1000.0 + " s"
        : duration.toMinutes() + " min";
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
