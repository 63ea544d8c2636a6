package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;

/**
 * One of a PackJob's {@code inputs}: an input and how often its samples are packed, the mixture of
 * the sets a PackJob packs together.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class PackInput extends InputRef {
  /** The largest repeat: each whole repeat packs the input once more. */
  public static final double MAX_REPEAT = 100;

  @JsonPropertyDescription(
      "How many times this input's samples are packed (default 1): 2 twice, 0.5 a fixed half of"
          + " each shard, 1.5 all once and a fixed half again. Copies never share a sequence.")
  @Min(value = 0, inclusive = false)
  @Max(MAX_REPEAT)
  public Double repeat;

  public static PackInput of(InputRef ref, Double repeat) {
    PackInput input = new PackInput();
    input.curationJob = ref.curationJob;
    input.packJob = ref.packJob;
    input.pretrainRun = ref.pretrainRun;
    input.path = ref.path;
    input.repeat = repeat;
    return input;
  }
}
