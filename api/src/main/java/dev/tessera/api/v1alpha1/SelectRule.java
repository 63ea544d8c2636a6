package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

/**
 * {@code select}: a leaf, or all/any groups nested two deep (a CRD schema cannot recurse; the
 * worker's own format can, and takes this shape as it is).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = SelectLeaf.ONE_TEST, message = SelectLeaf.ONE_TEST_MESSAGE)
@ValidationRule(
    value = SelectLeaf.ONE_THRESHOLD,
    message = "a score test needs exactly one of atLeast, atMost and topFraction")
public class SelectRule extends SelectLeaf {
  @JsonPropertyDescription("Every rule must hold.")
  public List<SelectTerm> all;

  @JsonPropertyDescription("Some rule must hold.")
  public List<SelectTerm> any;
}
