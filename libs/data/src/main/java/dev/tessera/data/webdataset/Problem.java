package dev.tessera.data.webdataset;

/**
 * Something wrong in a shard that the reader stepped over.
 *
 * @param kind what went wrong
 * @param shard the shard's file name
 * @param key the sample key (or the raw member name when it has no usable key)
 * @param detail a human-readable explanation
 */
public record Problem(Kind kind, String shard, String key, String detail) {

  /** Kinds of problems, with what the reader does about each. */
  public enum Kind {
    /** A member name is absolute or climbs out with {@code ..}: the member is skipped. */
    UNSAFE_PATH,
    /** A member name has no extension: the member is skipped. */
    MALFORMED_NAME,
    /** A link, device or other non-file member: skipped. */
    NON_FILE_MEMBER,
    /** A member is larger than {@link ReadOptions#maxMemberBytes}: its sample is dropped. */
    OVERSIZED_MEMBER,
    /** The same extension twice in one sample: the first is kept. */
    DUPLICATE_MEMBER,
    /** A key reappears after other keys in the same shard: the later part is dropped. */
    SPLIT_SAMPLE,
    /** No image member: the sample is dropped (when images are required). */
    MISSING_IMAGE,
    /** No caption member: the sample is dropped (when captions are required). */
    MISSING_CAPTION,
    /** The caption is not valid UTF-8: the sample is dropped. */
    INVALID_UTF8_CAPTION,
    /** The shard ends inside a member or without the end-of-archive marker. */
    TRUNCATED_SHARD,
    /** A header failed its checksum: reading resumes at the next valid header. */
    CORRUPT_HEADER,
    /** The shard could not be opened or read at all. */
    UNREADABLE_SHARD
  }

  @Override
  public String toString() {
    return kind + " " + shard + (key == null ? "" : " " + key) + ": " + detail;
  }
}
