package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.ValidationRule;

/** One test of a selection rule: a score against a threshold, or a flag. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "[has(self.score), has(self.flag)].exists_one(x, x)",
    message = "a selection test needs exactly one of score and flag")
@ValidationRule(
    value = SelectLeaf.ONE_THRESHOLD,
    message = "a score test needs exactly one of atLeast, atMost and topFraction")
public class SelectLeaf {
  static final String ONE_THRESHOLD =
      "!has(self.score) || [has(self.atLeast), has(self.atMost), has(self.topFraction)]"
          + ".exists_one(x, x)";
  static final String ONE_TEST =
      "[has(self.score), has(self.flag), has(self.all), has(self.any)].exists_one(x, x)";
  static final String ONE_TEST_MESSAGE =
      "a selection rule needs exactly one of score, flag, all and any";

  @JsonPropertyDescription("Score column without its score_ prefix, e.g. su or su_expected.")
  public String score;

  @JsonPropertyDescription("Keeps samples whose score is at least this.")
  public Double atLeast;

  @JsonPropertyDescription("Keeps samples whose score is at most this.")
  public Double atMost;

  @JsonPropertyDescription("Keeps this top share of the candidates by score (0 to 1).")
  @Min(0)
  @Max(1)
  public Double topFraction;

  @JsonPropertyDescription("Keeps samples whose uid list of this name (mode flag) lists them.")
  public String flag;
}
