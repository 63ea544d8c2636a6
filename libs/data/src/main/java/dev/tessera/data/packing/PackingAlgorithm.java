package dev.tessera.data.packing;

import java.util.Locale;
import java.util.Objects;

/**
 * How {@link BinPacker} chooses a bin for each sample. The decreasing algorithms visit the samples
 * in the same order, longest first (ties in input order), and open a new bin only when no open bin
 * has room; they differ in which of the bins with room they pick. Exact fill fills one bin at a
 * time instead, choosing samples to close it without a gap.
 */
public enum PackingAlgorithm {
  /** The first bin, in creation order, with room for the sample. */
  FIRST_FIT_DECREASING("ffd"),

  /**
   * The bin with the least room left that still fits the sample; among bins with equally little
   * room, the one that most recently received a sample.
   */
  BEST_FIT_DECREASING("bfd"),

  /**
   * One bin at a time, longest samples first, each bin closed exactly by one or two samples whose
   * lengths add up to the room left whenever such samples remain: bins full to the last token, so
   * the bin count comes within a few bins of the lower bound. Not the reference's algorithm.
   */
  EXACT_FILL("fill");

  private final String shortName;

  PackingAlgorithm(String shortName) {
    this.shortName = shortName;
  }

  /** The short name {@link #parse(String)} accepts: {@code ffd}, {@code bfd} or {@code fill}. */
  public String shortName() {
    return shortName;
  }

  /**
   * The algorithm named {@code name}: {@code ffd}, {@code bfd} or {@code fill}, or the constant's
   * own name ({@code first_fit_decreasing}, {@code first-fit-decreasing}, ...), in any case.
   *
   * @throws IllegalArgumentException for any other name
   */
  public static PackingAlgorithm parse(String name) {
    Objects.requireNonNull(name, "name");
    String wanted = name.strip().toLowerCase(Locale.ROOT).replace('-', '_');
    for (PackingAlgorithm algorithm : values()) {
      if (wanted.equals(algorithm.shortName)
          || wanted.equals(algorithm.name().toLowerCase(Locale.ROOT))) {
        return algorithm;
      }
    }
    throw new IllegalArgumentException(
        "unknown packing algorithm '" + name + "': expected ffd, bfd or fill");
  }
}
