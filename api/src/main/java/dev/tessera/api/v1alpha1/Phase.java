package dev.tessera.api.v1alpha1;

/** {@code status.phase}: where a resource is in its life (DESIGN.md §4). */
public enum Phase {
  /** Accepted; its first Job is being created or its pods have not started. */
  Pending,
  /** Its input resource has not succeeded yet. */
  Waiting,
  Running,
  Succeeded,
  Failed,
  /** {@code spec.suspend}, or queued by Kueue. */
  Suspended;

  public boolean finished() {
    return this == Succeeded || this == Failed;
  }
}
