package dev.tessera.trainer.pretrain;

import java.io.IOException;

/**
 * The run passed over more damaged rows than {@code --max-damaged-sequences}. Every rank stops at
 * the same step with one; only those that passed some over can name one, so a process reports
 * theirs first ({@link Pretrainer#rootCause}).
 */
public final class TooManyDamagedException extends IOException {
  private static final long serialVersionUID = 1L;

  private final boolean namesOne;

  TooManyDamagedException(String message, boolean namesOne) {
    super(message);
    this.namesOne = namesOne;
  }

  /** Whether this rank passed one of them over and names it. */
  public boolean namesOne() {
    return namesOne;
  }
}
