package dev.tessera.engine.dist;

/**
 * A collective could not complete because another rank failed, went away or stopped answering: the
 * cause lies with that rank, not with this one. The trainer exits with its own code for this, so
 * that whoever reads a failed gang's exit codes (the operator) looks for the rank that failed
 * first, and a run whose ranks only lost each other is retried rather than given up.
 */
public final class PeerLostException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  public PeerLostException(String message, Throwable cause) {
    super(message, cause);
  }
}
