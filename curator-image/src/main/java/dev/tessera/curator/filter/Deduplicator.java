package dev.tessera.curator.filter;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Finds duplicates among the samples seen so far, in the order given (the first of a group is
 * kept): exact duplicates by a hash of the image bytes, near duplicates by {@link PerceptualHash}es
 * within a Hamming radius, and duplicate captions (compared case- and space-insensitively).
 * Near-duplicate lookups use multi-index hashing: a 255-bit hash cut into 32 bytes — two hashes
 * within distance 31 agree exactly on at least one byte (pigeonhole) — so only hashes sharing a
 * byte in the same place are compared, not every hash seen.
 */
public final class Deduplicator {
  /** The largest radius the 32-way index answers exactly. */
  public static final int MAX_RADIUS = 31;

  private static final int CHUNKS = 32;

  private final int radius;
  private final boolean captions;
  private final Set<String> exact = new HashSet<>();
  private final Set<String> seenCaptions = new HashSet<>();
  private final List<Map<Integer, List<long[]>>> index = new ArrayList<>();

  /**
   * @param radius bits within which two perceptual hashes are near duplicates (of 255)
   * @param captions whether a caption seen before makes a duplicate
   */
  public Deduplicator(int radius, boolean captions) {
    if (radius < 0 || radius > MAX_RADIUS) {
      throw new IllegalArgumentException("radius must be in 0.." + MAX_RADIUS + ", got " + radius);
    }
    this.radius = radius;
    this.captions = captions;
    for (int i = 0; i < CHUNKS; i++) {
      index.add(new HashMap<>());
    }
  }

  /**
   * Classifies a sample and, when it is new, remembers it.
   *
   * @param contentHash hash of the image bytes (hex SHA-256)
   * @param perceptualHash its {@link PerceptualHash}
   * @param caption its caption
   * @return {@code "exact_duplicate"}, {@code "near_duplicate"}, {@code "duplicate_caption"}, or
   *     {@code null} for a new sample
   */
  public String check(String contentHash, long[] perceptualHash, String caption) {
    if (exact.contains(contentHash)) {
      return "exact_duplicate";
    }
    for (int i = 0; i < CHUNKS; i++) {
      List<long[]> candidates = index.get(i).get(chunk(perceptualHash, i));
      if (candidates == null) {
        continue;
      }
      for (long[] candidate : candidates) {
        if (PerceptualHash.distance(candidate, perceptualHash) <= radius) {
          return "near_duplicate";
        }
      }
    }
    String normalised = caption.strip().replaceAll("\\s+", " ").toLowerCase(Locale.ROOT);
    if (captions && seenCaptions.contains(normalised)) {
      return "duplicate_caption";
    }
    exact.add(contentHash);
    seenCaptions.add(normalised);
    for (int i = 0; i < CHUNKS; i++) {
      index
          .get(i)
          .computeIfAbsent(chunk(perceptualHash, i), k -> new ArrayList<>())
          .add(perceptualHash);
    }
    return null;
  }

  private static int chunk(long[] hash, int index) {
    return (int) ((hash[index >>> 3] >>> (8 * (index & 7))) & 0xff);
  }
}
