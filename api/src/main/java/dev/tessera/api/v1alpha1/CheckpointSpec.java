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
}
