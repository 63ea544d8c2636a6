package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

/** A test inside a group: a leaf, or one more all/any group of leaves. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = SelectLeaf.ONE_TEST, message = SelectLeaf.ONE_TEST_MESSAGE)
@ValidationRule(
    value = SelectLeaf.ONE_THRESHOLD,
    message = "a score test needs exactly one of atLeast, atMost and topFraction")
public class SelectTerm extends SelectLeaf {
  @JsonPropertyDescription("Every rule must hold.")
  public List<SelectLeaf> all;

  @JsonPropertyDescription("Some rule must hold.")
  public List<SelectLeaf> any;
}
