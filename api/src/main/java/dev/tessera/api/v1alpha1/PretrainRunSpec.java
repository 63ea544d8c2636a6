package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;

/** {@code PretrainRun.spec}: pre-training on packed sequences (docs/training.md). */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "has(self.input.packJob) || has(self.input.path)",
    message = "a PretrainRun's input is a packJob or a path")
@ValidationRule(
    value = "[has(self.training.steps), has(self.training.tokens)].exists_one(x, x)",
    message = "training needs exactly one of steps and tokens")
@ValidationRule(
    value = "!has(self.training.epochs)",
    message = "training.epochs is for FinetuneRun; use steps or tokens")
public class PretrainRunSpec extends DistributedSpec {
  @JsonPropertyDescription("The packed sequences: a PackJob's output, or a packed set's path.")
  @Required
  public InputRef input;

  @JsonPropertyDescription("The model to start from (default: the tiny preset).")
  public ModelSpec model;
}
