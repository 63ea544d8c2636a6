package dev.tessera.api.v1alpha1;

/** The condition types and reasons Tessera resources report, as {@code metav1.Condition}s. */
public final class Conditions {
  private Conditions() {}

  public static final String INPUT_READY = "InputReady";
  public static final String RUNNING = "Running";
  public static final String COMPLETE = "Complete";
  public static final String FAILED = "Failed";
  public static final String SUSPENDED = "Suspended";

  /** Whether the latest spec is what runs: False with reason {@code SpecChangeRefused}. */
  public static final String SPEC_APPLIED = "SpecApplied";

  public static final String REASON_WAITING = "Waiting";
  public static final String REASON_INPUT_FAILED = "InputFailed";
  public static final String REASON_INVALID_SPEC = "InvalidSpec";
  public static final String REASON_SPEC_CHANGE_REFUSED = "SpecChangeRefused";
  public static final String REASON_OOM_KILLED = "OOMKilled";
  public static final String REASON_BACKOFF_LIMIT = "BackoffLimitExceeded";
}
