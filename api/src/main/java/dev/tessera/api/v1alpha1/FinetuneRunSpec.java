package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;

/** {@code FinetuneRun.spec}: supervised fine-tuning on LLaVA conversations. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "has(self.init.pretrainRun) || has(self.init.path)",
    message = "a FinetuneRun starts from a pretrainRun or a checkpoint path")
@ValidationRule(
    value = "[has(self.training.steps), has(self.training.epochs)].exists_one(x, x)",
    message = "training needs exactly one of steps and epochs")
@ValidationRule(
    value = "!has(self.training.tokens)",
    message = "training.tokens is for PretrainRun; use steps or epochs")
public class FinetuneRunSpec extends DistributedSpec {
  @JsonPropertyDescription("LLaVA-format conversation JSON, relative to the volume.")
  @Required
  public String conversations;

  @JsonPropertyDescription("Where the conversations' image paths are relative to.")
  public String imageFolder;

  @JsonPropertyDescription(
      "Where fine-tuning starts: a PretrainRun's latest checkpoint, or a path.")
  @Required
  public InputRef init;

  @JsonPropertyDescription(
      "Which checkpoint of the init run (a PretrainRun, or a run directory as path) fine-tuning"
          + " starts from: latest (default), or best, the one with the lowest held-out loss that"
          + " the run kept with checkpoints.keepBest (its status.bestCheckpoint).")
  @Pattern("^(latest|best)$")
  public String initCheckpoint;

  @JsonPropertyDescription("The tokenizer.json, relative to the volume.")
  @Required
  public String tokenizer;

  @JsonPropertyDescription("Image tokens per image (default 729 = 27 x 27).")
  @Min(1)
  @Max(4096)
  public Integer imageTokens;

  @JsonPropertyDescription("Longest row in tokens (default 4096).")
  @Min(64)
  public Integer maxLength;
}
