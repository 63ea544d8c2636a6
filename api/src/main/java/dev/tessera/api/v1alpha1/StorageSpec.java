package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;

/** The shared volume: data, outputs and checkpoints live on it. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class StorageSpec {
  /** Where the claim is mounted when the spec does not say. */
  public static final String DEFAULT_MOUNT_PATH = "/data";

  @JsonPropertyDescription("Name of a PersistentVolumeClaim in the resource's namespace.")
  @Required
  @Pattern("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
  public String claimName;

  @JsonPropertyDescription("Where the claim is mounted and the worker runs; default /data.")
  @Pattern("^/.*")
  public String mountPath;

  public String mountPathOrDefault() {
    return mountPath == null ? DEFAULT_MOUNT_PATH : mountPath;
  }
}
