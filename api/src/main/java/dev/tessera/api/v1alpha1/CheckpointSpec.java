package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;

/** How often checkpoints are written and how many are kept. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class CheckpointSpec {
  @JsonPropertyDescription("Steps between checkpoints.")
  @Min(1)
  public Integer every;

  @JsonPropertyDescription("Checkpoints kept on the volume.")
  @Min(1)
  public Integer keepLast;

  @JsonPropertyDescription(
      "Keep the checkpoint with the lowest held-out loss too, whatever its age (needs"
          + " evaluation; the loss is then measured at every checkpoint); it is"
          + " status.bestCheckpoint.")
  public Boolean keepBest;

  @JsonPropertyDescription(
      "Seconds a training pod gets between SIGTERM (preemption, eviction, deletion) and SIGKILL"
          + " to finish its step and checkpoint it, so the next attempt resumes there (default"
          + " 300; a cloud's preemption notice may be shorter).")
  @Min(0)
  public Long stopGracePeriodSeconds;

  /** The pods' termination grace period. */
  public static long stopGracePeriodSeconds(CheckpointSpec spec) {
    return spec == null || spec.stopGracePeriodSeconds == null
        ? DEFAULT_STOP_GRACE_PERIOD_SECONDS
        : spec.stopGracePeriodSeconds;
  }

  /** Enough for a 1.5B model's step and its 18 GB checkpoint on ordinary storage. */
  public static final long DEFAULT_STOP_GRACE_PERIOD_SECONDS = 300;
}
