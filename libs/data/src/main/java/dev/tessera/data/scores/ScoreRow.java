package dev.tessera.data.scores;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One sample's row in a score table: where it is, what was measured, why the basic filters reject
 * it, and any model scores.
 *
 * @param shard the input shard's file name
 * @param key the sample's key in that shard
 * @param uid the DataComp uid (32 hex digits) from the sample's JSON, or "" when it has none
 * @param width image width in pixels (0 when there is no readable image)
 * @param height image height in pixels
 * @param contrast grey-level standard deviation of the image
 * @param sha256 hex SHA-256 of the image bytes, or null without an image
 * @param phash the perceptual hash (4 longs, 255 bits used), or null when the image did not decode
 * @param caption the caption ("" when missing)
 * @param reasons why the basic filters reject it; empty when it passes
 * @param scores model scores by name (absent: not scored)
 */
public record ScoreRow(
    String shard,
    String key,
    String uid,
    int width,
    int height,
    double contrast,
    String sha256,
    long[] phash,
    String caption,
    List<String> reasons,
    Map<String, Double> scores) {

  public ScoreRow {
    Objects.requireNonNull(shard, "shard");
    Objects.requireNonNull(key, "key");
    uid = uid == null ? "" : uid;
    caption = caption == null ? "" : caption;
    reasons = List.copyOf(reasons);
    scores = Map.copyOf(scores);
    if (phash != null && phash.length != 4) {
      throw new IllegalArgumentException("phash must have 4 longs, got " + phash.length);
    }
  }

  /** Whether the basic filters keep the sample. */
  public boolean passes() {
    return reasons.isEmpty();
  }
}
