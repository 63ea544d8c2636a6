package dev.tessera.data.synth;

import java.util.Locale;

/**
 * Faults injected into a fraction of synthetic samples, modelled on what web crawls contain, so
 * that filters and dedup stages can be tested against known ground truth.
 */
public enum Defect {
  /** Image bytes that start like a JPEG or PNG but cannot be decoded. */
  CORRUPT_IMAGE,
  /** An image of one uniform colour. */
  BLANK_IMAGE,
  /** An image whose shorter side is under 64 pixels. */
  TINY_IMAGE,
  /** Image bytes and caption copied from an earlier clean sample. */
  EXACT_DUPLICATE,
  /** An earlier clean sample's scene re-rendered slightly resized or cropped and re-encoded. */
  NEAR_DUPLICATE,
  /** A caption describing another scene (different shape, colour or count). */
  MISMATCHED_CAPTION,
  /** An empty caption. */
  EMPTY_CAPTION,
  /** A caption of random non-words. */
  GARBAGE_CAPTION,
  /** An aspect ratio beyond 3:1 (4:1 to 8:1). */
  EXTREME_ASPECT;

  /** The name written to JSON, e.g. {@code "corrupt_image"}. */
  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Whether the defect copies an earlier clean sample. */
  public boolean needsSource() {
    return this == EXACT_DUPLICATE || this == NEAR_DUPLICATE;
  }

  /** The defect with the given {@link #id()}. */
  public static Defect fromId(String id) {
    return valueOf(id.toUpperCase(Locale.ROOT));
  }
}
