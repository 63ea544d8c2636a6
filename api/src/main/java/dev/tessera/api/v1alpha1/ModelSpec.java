package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** The model a pre-training run starts from. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ModelSpec {
  @JsonPropertyDescription(
      "tiny (a preset for CPUs), or a JSON file with text_config and vision_config.")
  public String config;

  @JsonPropertyDescription("Hugging Face Qwen2 directory the decoder starts from.")
  public String llm;

  @JsonPropertyDescription("Hugging Face SigLIP directory of the (frozen) vision tower.")
  public String vision;
}
