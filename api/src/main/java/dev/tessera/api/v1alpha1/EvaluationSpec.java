package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;

/** Packed sequences held out of pre-training, and how often the loss on them is measured. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class EvaluationSpec {
  @JsonPropertyDescription(
      "Sequences of the packed set held out of training; the loss on them is eval_loss in"
          + " metrics.jsonl.")
  @Required
  @Min(1)
  public Integer sequences;

  @JsonPropertyDescription(
      "Steps between measurements; the last step always gets one (default: the checkpoint"
          + " interval).")
  @Min(1)
  public Integer every;
}
