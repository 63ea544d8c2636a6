package dev.tessera.data.webdataset;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * What a {@link WebDatasetReader} has read so far: samples delivered and dropped, bytes, and every
 * problem counted by kind, the first {@link ReadOptions#maxProblemDetails} with shard and key.
 */
public final class ReadReport {
  private final int maxDetails;
  private final EnumMap<Problem.Kind, Long> counts = new EnumMap<>(Problem.Kind.class);
  private final List<Problem> details = new ArrayList<>();
  private long shards;
  private long samples;
  private long droppedSamples;
  private long memberBytes;

  ReadReport(int maxDetails) {
    this.maxDetails = maxDetails;
  }

  void problem(Problem problem) {
    counts.merge(problem.kind(), 1L, Long::sum);
    if (details.size() < maxDetails) {
      details.add(problem);
    }
  }

  void shardOpened() {
    shards++;
  }

  void delivered(Sample sample) {
    samples++;
    memberBytes += sample.byteSize();
  }

  void dropped() {
    droppedSamples++;
  }

  /** Shards opened (including unreadable ones). */
  public long shards() {
    return shards;
  }

  /** Samples delivered to the caller. */
  public long samples() {
    return samples;
  }

  /** Samples seen but not delivered because of a problem. */
  public long droppedSamples() {
    return droppedSamples;
  }

  /** Bytes of the members of delivered samples. */
  public long memberBytes() {
    return memberBytes;
  }

  public long count(Problem.Kind kind) {
    return counts.getOrDefault(kind, 0L);
  }

  public Map<Problem.Kind, Long> counts() {
    return Collections.unmodifiableMap(counts);
  }

  /** Total problems of every kind. */
  public long problemCount() {
    return counts.values().stream().mapToLong(Long::longValue).sum();
  }

  /** The first problems, with shard and key. */
  public List<Problem> problems() {
    return Collections.unmodifiableList(details);
  }

  @Override
  public String toString() {
    return "ReadReport[shards="
        + shards
        + ", samples="
        + samples
        + ", dropped="
        + droppedSamples
        + ", bytes="
        + memberBytes
        + ", problems="
        + counts
        + "]";
  }
}
