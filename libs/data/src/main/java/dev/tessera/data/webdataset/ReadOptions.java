package dev.tessera.data.webdataset;

/**
 * What the reader accepts.
 *
 * @param maxMemberBytes members larger than this are skipped unread and their sample dropped
 * @param requireImage drop samples without a {@code jpg/jpeg/png/webp} member
 * @param requireCaption drop samples without a {@code txt} member
 * @param maxProblemDetails how many problems the report keeps with shard and key (all are counted)
 */
public record ReadOptions(
    long maxMemberBytes, boolean requireImage, boolean requireCaption, int maxProblemDetails) {

  /** Default bound on one member: far above any web image, far below a heap. */
  public static final long DEFAULT_MAX_MEMBER_BYTES = 64L << 20;

  public ReadOptions {
    if (maxMemberBytes < 1 || maxMemberBytes > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException(
          "maxMemberBytes must be in 1.." + (Integer.MAX_VALUE - 16) + ", got " + maxMemberBytes);
    }
    if (maxProblemDetails < 0) {
      throw new IllegalArgumentException("maxProblemDetails must be >= 0");
    }
  }

  /** Image-text pairs: image and caption required, 64 MiB per member, 1000 problem details. */
  public static ReadOptions defaults() {
    return new ReadOptions(DEFAULT_MAX_MEMBER_BYTES, true, true, 1000);
  }

  /** Any sample, whatever members it has. */
  public static ReadOptions anySample() {
    return new ReadOptions(DEFAULT_MAX_MEMBER_BYTES, false, false, 1000);
  }

  public ReadOptions withMaxMemberBytes(long bytes) {
    return new ReadOptions(bytes, requireImage, requireCaption, maxProblemDetails);
  }
}
