package dev.tessera.data.uid;

/**
 * A DataComp sample identifier: 128 bits, written as 32 hex digits. The two halves are the fields
 * of DataComp's {@code np.dtype("u8,u8")} uid lists: {@code hi} is {@code int(uid[:16], 16)} (field
 * {@code f0}) and {@code lo} is {@code int(uid[16:32], 16)} (field {@code f1}).
 *
 * <p>Both halves are unsigned 64-bit values stored in Java's signed {@code long}, so ordering uses
 * {@link Long#compareUnsigned}; it matches numpy's sort of the structured array and the
 * lexicographic order of the lowercase hex strings.
 *
 * @param hi the first 16 hex digits as an unsigned 64-bit value
 * @param lo the last 16 hex digits as an unsigned 64-bit value
 */
public record Uid(long hi, long lo) implements Comparable<Uid> {

  /** Number of hex digits in a uid's text form. */
  public static final int HEX_DIGITS = 32;

  /**
   * Parses 32 hex digits (upper or lower case, nothing else: no {@code 0x}, sign or whitespace).
   *
   * @throws IllegalArgumentException naming the input if it is not exactly 32 hex digits
   */
  public static Uid parse(String text) {
    if (text == null) {
      throw new IllegalArgumentException("uid must be 32 hex digits, got null");
    }
    if (text.length() != HEX_DIGITS) {
      throw new IllegalArgumentException(
          "uid must be 32 hex digits, got " + text.length() + " characters: \"" + text + "\"");
    }
    return new Uid(parseHalf(text, 0), parseHalf(text, 16));
  }

  // Long.parseUnsignedLong and Character.digit would also accept a leading '+' or non-ASCII
  // digits, so the digits are checked by hand.
  private static long parseHalf(String text, int start) {
    long value = 0;
    for (int i = start; i < start + 16; i++) {
      int digit = hexDigit(text.charAt(i));
      if (digit < 0) {
        throw new IllegalArgumentException(
            "uid must be 32 hex digits, got \""
                + text
                + "\" (character "
                + i
                + " is '"
                + text.charAt(i)
                + "')");
      }
      value = (value << 4) | digit;
    }
    return value;
  }

  private static int hexDigit(char c) {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  }

  /** The 32 lowercase hex digits, as DataComp writes uids. */
  @Override
  public String toString() {
    return hex16(hi) + hex16(lo);
  }

  private static String hex16(long half) {
    String digits = Long.toHexString(half);
    return "0".repeat(16 - digits.length()) + digits;
  }

  /** Unsigned order of {@code hi}, then of {@code lo}. */
  @Override
  public int compareTo(Uid other) {
    return compare(hi, lo, other.hi, other.lo);
  }

  /** Unsigned order of two uids given as halves, without allocating {@link Uid} objects. */
  public static int compare(long hi1, long lo1, long hi2, long lo2) {
    int byHi = Long.compareUnsigned(hi1, hi2);
    return byHi != 0 ? byHi : Long.compareUnsigned(lo1, lo2);
  }
}
