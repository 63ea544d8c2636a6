package dev.tessera.data.packing;

import java.util.Locale;
import java.util.Objects;

/**
 * How {@link BinPacker} chooses a bin for each sample. Both visit the samples in the same order,
 * longest first (ties in input order), and open a new bin only when no open bin has room; they
 * differ in which of the bins with room they pick.
 */
public enum PackingAlgorithm {
  /** The first bin, in creation order, with room for the sample. */
  FIRST_FIT_DECREASING("ffd"),

  /**
   * The bin with the least room left that still fits the sample; among bins with equally little
   * room, the one that most recently received a sample.
   */
  BEST_FIT_DECREASING("bfd");

  private final String shortName;

  PackingAlgorithm(String shortName) {
    this.shortName = shortName;
  }

  /** The short name {@link #parse(String)} accepts: {@code ffd} or {@code bfd}. */
  public String shortName() {
    return shortName;
  }

  /**
   * The algorithm named {@code name}: {@code ffd} or {@code bfd}, or the constant's own name
   * ({@code first_fit_decreasing}, {@code first-fit-decreasing}, ...), in any case.
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
        "unknown packing algorithm '" + name + "': expected ffd or bfd");
  }
}
