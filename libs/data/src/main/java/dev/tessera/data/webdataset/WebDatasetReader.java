package dev.tessera.data.webdataset;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarUtils;

/**
 * Streams samples out of WebDataset tar shards, one shard after another, in tar order.
 *
 * <p>Consecutive members that share a key ({@code dir/key.ext}: the member name up to the first dot
 * of its file name) form one sample. A tar is never trusted: unsafe names, links, oversized
 * members, truncation and corrupt headers are counted in the {@link #report()} with shard and key
 * and stepped over; only the sample they touch is lost, never the samples around it. A corrupt
 * header is passed by scanning ahead for the next valid one.
 *
 * <pre>{@code
 * try (WebDatasetReader reader = WebDatasetReader.open(ShardList.resolve(root, "raw/{00000..00009}.tar"))) {
 *   reader.forEachRemaining(sample -> ...);
 *   System.out.println(reader.report());
 * }
 * }</pre>
 */
public final class WebDatasetReader implements Iterator<Sample>, Closeable {
  private static final int BLOCK = 512;

  private final List<Path> shards;
  private final ReadOptions options;
  private final ReadReport report;
  private final int windowSize;
  private int nextShard;
  private Shard shard;
  private Sample ready;

  WebDatasetReader(List<Path> shards, ReadOptions options, int windowSize) {
    this.shards = List.copyOf(shards);
    this.options = options;
    this.report = new ReadReport(options.maxProblemDetails());
    this.windowSize = windowSize;
  }

  public static WebDatasetReader open(List<Path> shards, ReadOptions options) {
    return new WebDatasetReader(shards, options, MappedFileInput.DEFAULT_WINDOW);
  }

  public static WebDatasetReader open(List<Path> shards) {
    return open(shards, ReadOptions.defaults());
  }

  /** The running report; complete once {@link #hasNext()} has returned false. */
  public ReadReport report() {
    return report;
  }

  /** The remaining samples as a sequential stream; closing the stream closes the reader. */
  public Stream<Sample> stream() {
    return StreamSupport.stream(
            Spliterators.spliteratorUnknownSize(this, Spliterator.ORDERED | Spliterator.NONNULL),
            false)
        .onClose(this::close);
  }

  @Override
  public boolean hasNext() {
    if (ready == null) {
      ready = readNext();
    }
    return ready != null;
  }

  @Override
  public Sample next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    Sample sample = ready;
    ready = null;
    return sample;
  }

  @Override
  public void close() {
    if (shard != null) {
      shard.close();
      shard = null;
    }
    nextShard = shards.size();
  }

  private Sample readNext() {
    while (true) {
      if (shard == null) {
        if (nextShard >= shards.size()) {
          return null;
        }
        shard = openShard(shards.get(nextShard++));
        if (shard == null) {
          continue;
        }
      }
      Sample sample = shard.next();
      if (sample != null) {
        report.delivered(sample);
        return sample;
      }
      shard.close();
      shard = null;
    }
  }

  private Shard openShard(Path path) {
    report.shardOpened();
    String name = path.getFileName().toString();
    try {
      FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
      return new Shard(name, channel, new MappedFileInput(channel, windowSize));
    } catch (IOException | RuntimeException e) {
      report.problem(new Problem(Problem.Kind.UNREADABLE_SHARD, name, null, String.valueOf(e)));
      return null;
    }
  }

  /** Reading state of one shard. */
  private final class Shard {
    final String name;
    final FileChannel channel;
    final MappedFileInput input;
    final SeenKeys keysSeen = new SeenKeys();
    TarInput tar;

    /** Where the header after the current member starts: the resynchronisation point. */
    long nextHeader;

    Pending pending;
    boolean finished;

    Shard(String name, FileChannel channel, MappedFileInput input) {
      this.name = name;
      this.channel = channel;
      this.input = input;
      this.tar = new TarInput(input);
    }

    /** The next good sample of this shard, or null when the shard is exhausted. */
    Sample next() {
      while (!finished) {
        TarArchiveEntry entry = nextEntry();
        if (entry == null) {
          finished = true;
          checkEndOfArchive();
          break;
        }
        Sample completed = accept(entry);
        if (completed != null) {
          return completed;
        }
      }
      return completePending();
    }

    private TarArchiveEntry nextEntry() {
      while (true) {
        long headerAt = nextHeader;
        try {
          if (tar.getCurrentEntry() != null) {
            input.seek(nextHeader);
            tar.entryConsumed();
          }
          TarArchiveEntry entry = tar.getNextEntry();
          if (entry != null) {
            nextHeader = input.position() + roundUp(Math.max(0, entry.getSize()));
          }
          return entry;
        } catch (IOException | RuntimeException e) {
          if (input.position() >= input.size()) {
            truncated("the shard ends inside a tar header at byte " + headerAt);
            return null;
          }
          long resumeAt = findNextHeader(headerAt + BLOCK);
          problem(
              Problem.Kind.CORRUPT_HEADER,
              pending == null ? null : pending.key,
              "invalid tar header at byte "
                  + headerAt
                  + " ("
                  + e.getMessage()
                  + "); "
                  + (resumeAt < 0
                      ? "no valid header after it, rest of shard skipped"
                      : "resumed at byte " + resumeAt));
          if (resumeAt < 0) {
            return null;
          }
          input.seek(resumeAt);
          nextHeader = resumeAt;
          tar = new TarInput(input);
        }
      }
    }

    /** Adds the entry to the pending sample; returns the previous sample if this one ends it. */
    private Sample accept(TarArchiveEntry entry) {
      String memberName = entry.getName();
      if (entry.isDirectory()) {
        return null;
      }
      if (entry.isSymbolicLink()
          || entry.isLink()
          || entry.isCharacterDevice()
          || entry.isBlockDevice()
          || entry.isFIFO()) {
        problem(Problem.Kind.NON_FILE_MEMBER, memberName, "link or special file, skipped");
        return null;
      }
      if (isUnsafe(memberName)) {
        problem(Problem.Kind.UNSAFE_PATH, memberName, "absolute path or '..' in member name");
        return null;
      }
      int slash = memberName.lastIndexOf('/');
      int dot = memberName.indexOf('.', slash + 1);
      if (dot <= slash + 1 || dot == memberName.length() - 1) {
        problem(Problem.Kind.MALFORMED_NAME, memberName, "member name has no key.extension form");
        return null;
      }
      String key = memberName.substring(0, dot);
      String extension = lowerCase(memberName.substring(dot + 1));

      Sample completed = null;
      if (pending == null || !pending.key.equals(key)) {
        completed = completePending();
        pending = new Pending(key);
        if (!keysSeen.add(key)) {
          pending.reject(Problem.Kind.SPLIT_SAMPLE, "key appears again after other keys");
        }
      }
      if (pending.rejected) {
        return completed;
      }
      if (entry.getSize() > options.maxMemberBytes()) {
        pending.reject(
            Problem.Kind.OVERSIZED_MEMBER,
            extension
                + " member is "
                + entry.getSize()
                + " bytes, bound is "
                + options.maxMemberBytes());
        return completed;
      }
      if (pending.members.containsKey(extension)) {
        problem(Problem.Kind.DUPLICATE_MEMBER, key, "second ." + extension + " member skipped");
        return completed;
      }
      // The member's bytes start where the tar stream stands now; hand them out as a slice.
      // nextEntry() moves the stream past them.
      long dataStart = input.position();
      long available = input.size() - dataStart;
      if (available < entry.getSize()) {
        truncated(extension, available, entry.getSize());
        return completed;
      }
      ByteBuffer data;
      try {
        data = input.slice(dataStart, (int) entry.getSize());
      } catch (IOException e) {
        truncated(extension, 0, entry.getSize());
        return completed;
      }
      pending.members.put(extension, data);
      return completed;
    }

    private void truncated(String extension, long read, long expected) {
      pending.reject(
          Problem.Kind.TRUNCATED_SHARD,
          "the shard ends inside ." + extension + " (" + read + " of " + expected + " bytes)");
      finished = true;
    }

    private void truncated(String detail) {
      problem(Problem.Kind.TRUNCATED_SHARD, pending == null ? null : pending.key, detail);
      finished = true;
    }

    /** Finishes the pending sample: delivered if complete and valid, otherwise counted. */
    private Sample completePending() {
      Pending sample = pending;
      pending = null;
      if (sample == null) {
        return null;
      }
      if (!sample.rejected) {
        if (options.requireImage()
            && Sample.IMAGE_EXTENSIONS.stream().noneMatch(sample.members::containsKey)) {
          sample.reject(Problem.Kind.MISSING_IMAGE, "no image member " + sample.members.keySet());
        } else if (options.requireCaption() && !sample.members.containsKey("txt")) {
          sample.reject(Problem.Kind.MISSING_CAPTION, "no .txt member " + sample.members.keySet());
        } else if (sample.members.containsKey("txt")
            && !Sample.isValidUtf8(sample.members.get("txt"))) {
          sample.reject(Problem.Kind.INVALID_UTF8_CAPTION, "caption is not valid UTF-8");
        }
      }
      if (sample.rejected) {
        report.dropped();
        return null;
      }
      return new Sample(name, sample.key, sample.members);
    }

    /** A complete tar ends with zero blocks; without them the shard was cut short. */
    private void checkEndOfArchive() {
      ByteBuffer marker = ByteBuffer.allocate(2 * BLOCK);
      boolean present;
      try {
        input.readAt(nextHeader, marker);
        present = isZero(marker.array());
      } catch (IOException e) {
        present = false;
      }
      if (!present) {
        problem(
            Problem.Kind.TRUNCATED_SHARD,
            pending == null ? null : pending.key,
            input.size() == 0
                ? "empty file"
                : "no end-of-archive marker after byte " + nextHeader + " of " + input.size());
      }
    }

    /** The offset of the first block at or after {@code from} that is a valid ustar header. */
    private long findNextHeader(long from) {
      ByteBuffer block = ByteBuffer.allocate(BLOCK);
      for (long at = roundUp(from); at + BLOCK <= input.size(); at += BLOCK) {
        block.clear();
        try {
          input.readAt(at, block);
        } catch (IOException e) {
          return -1;
        }
        if (isValidHeader(block.array())) {
          return at;
        }
      }
      return -1;
    }

    private void problem(Problem.Kind kind, String key, String detail) {
      report.problem(new Problem(kind, name, key, detail));
    }

    void close() {
      try {
        tar.close();
        channel.close();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /** Members of the sample being assembled. */
    private final class Pending {
      final String key;
      final LinkedHashMap<String, ByteBuffer> members = new LinkedHashMap<>();
      boolean rejected;

      Pending(String key) {
        this.key = key;
      }

      void reject(Problem.Kind kind, String detail) {
        if (!rejected) {
          rejected = true;
          members.clear();
          problem(kind, key, detail);
        }
      }
    }
  }

  /** Extensions are nearly always lower case already; skip the copy then. */
  private static String lowerCase(String extension) {
    for (int i = 0; i < extension.length(); i++) {
      if (Character.isUpperCase(extension.charAt(i))) {
        return extension.toLowerCase(Locale.ROOT);
      }
    }
    return extension;
  }

  /**
   * Keys seen in one shard. Shards written by img2dataset, DataComp and Tessera have increasing
   * keys, so a key above the largest so far is new without a lookup; the set is built only for a
   * shard that goes back.
   */
  private static final class SeenKeys {
    private final List<String> inOrder = new ArrayList<>();
    private Set<String> set;
    private String largest;

    /** Records {@code key}; false if it was seen before. */
    boolean add(String key) {
      if (set == null && (largest == null || key.compareTo(largest) > 0)) {
        largest = key;
        inOrder.add(key);
        return true;
      }
      if (set == null) {
        set = new HashSet<>(inOrder);
      }
      return set.add(key);
    }
  }

  static boolean isUnsafe(String memberName) {
    if (memberName.isEmpty()
        || memberName.startsWith("/")
        || memberName.startsWith("\\")
        || memberName.indexOf('\0') >= 0
        || (memberName.length() > 1 && memberName.charAt(1) == ':')) {
      return true;
    }
    // A ".." path component, with either separator (no regex: this runs for every member).
    int start = 0;
    for (int i = 0; i <= memberName.length(); i++) {
      if (i == memberName.length() || memberName.charAt(i) == '/' || memberName.charAt(i) == '\\') {
        if (i - start == 2
            && memberName.charAt(start) == '.'
            && memberName.charAt(start + 1) == '.') {
          return true;
        }
        start = i + 1;
      }
    }
    return false;
  }

  /** A ustar or GNU header whose checksum matches: where a damaged tar can be picked up again. */
  private static boolean isValidHeader(byte[] header) {
    boolean ustar =
        header[257] == 'u'
            && header[258] == 's'
            && header[259] == 't'
            && header[260] == 'a'
            && header[261] == 'r';
    try {
      return ustar && TarUtils.verifyCheckSum(header);
    } catch (IllegalArgumentException notOctal) {
      return false;
    }
  }

  private static long roundUp(long offset) {
    return (offset + BLOCK - 1) / BLOCK * BLOCK;
  }

  private static boolean isZero(byte[] bytes) {
    for (byte b : bytes) {
      if (b != 0) {
        return false;
      }
    }
    return true;
  }
}
