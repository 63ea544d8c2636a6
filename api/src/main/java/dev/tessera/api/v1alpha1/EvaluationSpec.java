package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;

/**
 * Sequences held out of training (packed sequences, or conversations for fine-tuning), and how
 * often the loss on them is measured.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class EvaluationSpec {
  @JsonPropertyDescription(
      "Sequences held out of training; the loss on them is eval_loss in metrics.jsonl and"
          + " status.progress.evalLoss.")
  @Required
  @Min(1)
  public Integer sequences;

  @JsonPropertyDescription(
      "Steps between measurements; the last step always gets one (default: the checkpoint"
          + " interval).")
  @Min(1)
  public Integer every;
}
