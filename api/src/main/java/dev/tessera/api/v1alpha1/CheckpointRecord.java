package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** A completed training checkpoint as the trainer reported it. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class CheckpointRecord {
  @JsonPropertyDescription("Optimizer step the checkpoint holds.")
  public Long step;

  @JsonPropertyDescription("Checkpoint directory, relative to the storage volume.")
  public String path;

  @JsonPropertyDescription("Training loss at that step.")
  public Double loss;

  @JsonPropertyDescription("Held-out loss at that step, when it was measured there.")
  public Double evalLoss;

  @JsonPropertyDescription("When it was written (RFC 3339).")
  public String time;

  @JsonPropertyDescription("Whether its manifest and checksums were verified after writing.")
  public Boolean verified;
}
