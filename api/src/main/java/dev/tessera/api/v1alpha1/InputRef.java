package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.ValidationRule;

/**
 * A stage's input: the output of another Tessera resource in the same namespace (the stage waits
 * until it has succeeded), or a path on the storage volume.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value =
        "[has(self.curationJob), has(self.packJob), has(self.pretrainRun), has(self.path)].exists_one(x, x)",
    message = "an input names exactly one of curationJob, packJob, pretrainRun and path")
@ValidationRule(
    value =
        "!has(self.path) || (!self.path.startsWith('/') && !self.path.matches('(^|/)\\\\.\\\\.(/|$)'))",
    message = "input.path must be a path inside the storage volume (relative, no '..' segment)")
public class InputRef {
  private static final String NAME = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

  @JsonPropertyDescription("A CurationJob whose kept shards are the input.")
  @Pattern(NAME)
  public String curationJob;

  @JsonPropertyDescription("A PackJob whose packed sequences are the input.")
  @Pattern(NAME)
  public String packJob;

  @JsonPropertyDescription("A PretrainRun whose latest checkpoint is the input.")
  @Pattern(NAME)
  public String pretrainRun;

  @JsonPropertyDescription("A path on the storage volume.")
  public String path;

  /** The kind referenced, or null for a path. */
  public String kind() {
    if (curationJob != null) {
      return "CurationJob";
    }
    if (packJob != null) {
      return "PackJob";
    }
    if (pretrainRun != null) {
      return "PretrainRun";
    }
    return null;
  }

  /** The name referenced, or null for a path. */
  public String name() {
    if (curationJob != null) {
      return curationJob;
    }
    if (packJob != null) {
      return packJob;
    }
    return pretrainRun;
  }

  public static InputRef path(String path) {
    InputRef ref = new InputRef();
    ref.path = path;
    return ref;
  }
}
