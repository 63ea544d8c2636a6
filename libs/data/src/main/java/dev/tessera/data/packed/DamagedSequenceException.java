package dev.tessera.data.packed;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * A packed sequence that cannot be read or whose image cannot be decoded. The loader has moved past
 * it: the caller may log it and ask for the next sequence, or stop.
 */
public final class DamagedSequenceException extends IOException {
  private static final long serialVersionUID = 1L;

  private final long sequence;
  private final long position;

  DamagedSequenceException(long sequence, long position, Throwable cause) {
    super(
        "packed sequence " + sequence + " (stream position " + position + "): " + describe(cause),
        cause);
    this.sequence = sequence;
    this.position = position;
  }

  /** The sequence's index in the packed set. */
  public long sequence() {
    return sequence;
  }

  /** Its global position in the stream. */
  public long position() {
    return position;
  }

  private static String describe(Throwable cause) {
    // The decoders run on the loader's threads and wrap what they throw.
    Throwable inner =
        cause instanceof UncheckedIOException && cause.getCause() != null
            ? cause.getCause()
            : cause;
    return inner.getMessage() == null ? inner.toString() : inner.getMessage();
  }
}
