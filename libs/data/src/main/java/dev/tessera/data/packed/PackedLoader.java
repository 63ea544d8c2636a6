package dev.tessera.data.packed;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;

/**
 * Feeds one training rank from a packed set: an endless, seeded stream of sequences, epoch after
 * epoch, each epoch a fresh shuffle of all sequences; sequences read and their images decoded on
 * background threads ahead of the trainer; resumable at the exact sequence.
 *
 * <p><b>Order.</b> The set's sequences form one global stream: position {@code g} is sequence
 * {@code perm_e[g mod N]} of epoch {@code e = g / N}, where {@code perm_e} is a permutation drawn
 * from the seed and the epoch. Rank {@code r} of {@code R} takes positions {@code r, r + R, r + 2R,
 * …}. So at any point the ranks together have consumed a prefix of the global stream, and R ranks
 * taking b sequences each per step consume exactly the sequences one rank taking R·b would: the
 * data does not depend on the number of ranks. Neither does it depend on the number of decoding
 * threads.
 *
 * <p><b>Held-out sequences.</b> Opened with {@link HeldOut#training()}, the loader streams only
 * those sequences (N is then their number, and {@code perm_e} indexes them): the held-out ones
 * never reach training.
 *
 * <p><b>Resuming.</b> {@link #nextPosition()} is the global position of the next sequence this rank
 * will deliver; a checkpoint stores the smallest over ranks (in lockstep training they are the
 * ranks' own offsets from one global position), and a loader opened at that global position
 * delivers the same sequences from there on.
 *
 * @param <T> what an image becomes once decoded (for the trainer: the vision tower's input)
 */
public final class PackedLoader<T> implements AutoCloseable {

  /**
   * How a rank reads.
   *
   * @param seed shuffling seed; the same seed gives the same order
   * @param rank this rank, 0-based
   * @param ranks ranks in all
   * @param prefetch sequences read and decoded ahead of the trainer
   * @param threads background threads reading and decoding
   */
  public record Options(long seed, int rank, int ranks, int prefetch, int threads) {
    public Options {
      if (ranks < 1 || rank < 0 || rank >= ranks) {
        throw new IllegalArgumentException("rank " + rank + " of " + ranks + " ranks");
      }
      if (prefetch < 1 || threads < 1) {
        throw new IllegalArgumentException(
            "prefetch and threads must be >= 1, got " + prefetch + " and " + threads);
      }
    }

    /** One rank, 8 sequences ahead, 2 threads. */
    public static Options singleRank(long seed) {
      return new Options(seed, 0, 1, 8, 2);
    }
  }

  /**
   * A sequence as delivered.
   *
   * @param position its place in the global stream
   * @param epoch {@code position / sequenceCount}
   * @param sequence the sequence
   * @param images its samples' images, decoded, in sample order
   */
  public record Item<T>(long position, long epoch, PackedSequence sequence, List<T> images) {}

  private final PackedShards shards;
  private final Options options;
  private final Function<ByteBuffer, T> decode;
  private final long count;

  /** The sequences streamed, by index in the set; null for all of them. */
  private final int[] sequences;

  private final ExecutorService workers;
  private final ArrayDeque<Future<Item<T>>> ahead = new ArrayDeque<>();
  private long nextToSubmit;
  private long nextToDeliver;
  private long permutationEpoch = -1;
  private int[] permutation;
  private boolean closed;

  private PackedLoader(
      PackedShards shards,
      Options options,
      Function<ByteBuffer, T> decode,
      long startPosition,
      int[] sequences) {
    this.shards = shards;
    this.options = options;
    this.decode = decode;
    this.sequences = sequences;
    this.count = sequences == null ? shards.sequenceCount() : sequences.length;
    // The first position at or after startPosition that belongs to this rank.
    long offset = Math.floorMod(options.rank() - startPosition, (long) options.ranks());
    this.nextToDeliver = startPosition + offset;
    this.nextToSubmit = nextToDeliver;
    this.workers =
        Executors.newFixedThreadPool(
            options.threads(),
            runnable -> {
              Thread thread = new Thread(runnable, "packed-loader-" + options.rank());
              thread.setDaemon(true);
              return thread;
            });
  }

  /**
   * A loader for one rank, starting at global position {@code startPosition} (0 for a new run).
   *
   * @param decode turns an image's bytes into what the trainer consumes; runs on the loader's
   *     threads
   * @throws IllegalArgumentException when the set holds no sequence or the position is negative
   */
  public static <T> PackedLoader<T> open(
      PackedShards shards, Options options, Function<ByteBuffer, T> decode, long startPosition) {
    return open(shards, options, decode, startPosition, null);
  }

  /**
   * A loader that streams only {@code sequences} (indexes into the set, such as {@link
   * HeldOut#training()}), or all of them for null.
   */
  public static <T> PackedLoader<T> open(
      PackedShards shards,
      Options options,
      Function<ByteBuffer, T> decode,
      long startPosition,
      int[] sequences) {
    Objects.requireNonNull(shards, "shards");
    Objects.requireNonNull(decode, "decode");
    if (shards.sequenceCount() == 0) {
      throw new IllegalArgumentException("packed set " + shards.dir() + " holds no sequences");
    }
    if (sequences != null) {
      if (sequences.length == 0) {
        throw new IllegalArgumentException(
            "no sequence of packed set " + shards.dir() + " is left to stream");
      }
      for (int sequence : sequences) {
        if (sequence < 0 || sequence >= shards.sequenceCount()) {
          throw new IllegalArgumentException(
              "sequence " + sequence + " is not in packed set " + shards.dir());
        }
      }
    }
    if (startPosition < 0) {
      throw new IllegalArgumentException("start position must be >= 0, got " + startPosition);
    }
    return new PackedLoader<>(
        shards, options, decode, startPosition, sequences == null ? null : sequences.clone());
  }

  /** The global position of the next sequence {@link #next()} will return. */
  public long nextPosition() {
    return nextToDeliver;
  }

  /**
   * The next sequence for this rank, waiting for it if the background threads are behind.
   *
   * @throws DamagedSequenceException when the sequence cannot be read or one of its images cannot
   *     be decoded; the loader has moved past it, and the next call returns the one after
   */
  public Item<T> next() throws IOException {
    if (closed) {
      throw new IllegalStateException("loader is closed");
    }
    while (ahead.size() < options.prefetch()) {
      long position = nextToSubmit;
      long sequence = sequenceAt(position);
      ahead.add(workers.submit(() -> load(position, sequence)));
      nextToSubmit += options.ranks();
    }
    Future<Item<T>> head = ahead.poll();
    long position = nextToDeliver;
    try {
      Item<T> item = head.get();
      nextToDeliver += options.ranks();
      return item;
    } catch (ExecutionException e) {
      nextToDeliver += options.ranks();
      throw new DamagedSequenceException(sequenceAt(position), position, e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for a packed sequence", e);
    }
  }

  private Item<T> load(long position, long sequence) throws IOException {
    PackedSequence read = shards.read(sequence);
    List<T> images = new ArrayList<>(read.images().size());
    for (ByteBuffer image : read.images()) {
      images.add(decode.apply(image.asReadOnlyBuffer()));
    }
    return new Item<>(position, position / count, read, images);
  }

  /** The sequence at global position {@code position}: its epoch's permutation, at its index. */
  private long sequenceAt(long position) {
    long epoch = position / count;
    if (epoch != permutationEpoch) {
      permutation = permutation(options.seed(), epoch, (int) count);
      permutationEpoch = epoch;
    }
    int index = permutation[(int) (position % count)];
    return sequences == null ? index : sequences[index];
  }

  /**
   * A Fisher–Yates shuffle of {@code 0..count-1}, its generator seeded with the run's seed and the
   * epoch mixed by SplitMix64's finaliser (so neighbouring seeds and epochs give unrelated orders).
   */
  public static int[] permutation(long seed, long epoch, int count) {
    long mixed = seed + 0x9E3779B97F4A7C15L * (epoch + 1);
    mixed = (mixed ^ (mixed >>> 30)) * 0xBF58476D1CE4E5B9L;
    mixed = (mixed ^ (mixed >>> 27)) * 0x94D049BB133111EBL;
    SplittableRandom random = new SplittableRandom(mixed ^ (mixed >>> 31));
    int[] order = new int[count];
    for (int i = 0; i < count; i++) {
      order[i] = i;
    }
    for (int i = count - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int swap = order[i];
      order[i] = order[j];
      order[j] = swap;
    }
    return order;
  }

  /**
   * Stops the background threads; sequences read ahead are dropped. Reads in progress are left to
   * finish rather than interrupted: an interrupted file read closes the channel, which other
   * loaders of the same set may share.
   */
  @Override
  public void close() {
    closed = true;
    ahead.forEach(future -> future.cancel(false));
    ahead.clear();
    workers.shutdown();
  }
}
