package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** Where a finished stage's output is. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class OutputRecord {
  @JsonPropertyDescription("Output directory, relative to the storage volume.")
  public String path;

  @JsonPropertyDescription("sha256 of the output's manifest, when the worker reported one.")
  public String manifestDigest;
}
