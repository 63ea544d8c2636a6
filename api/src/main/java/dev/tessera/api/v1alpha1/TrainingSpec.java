package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;

/** Optimizer, schedule and batch of a training run; unset fields take the trainer's defaults. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class TrainingSpec {
  @JsonPropertyDescription("Optimizer steps.")
  @Min(1)
  public Long steps;

  @JsonPropertyDescription("Or (PretrainRun): packed tokens to train on.")
  @Min(1)
  public Long tokens;

  @JsonPropertyDescription("Or (FinetuneRun): passes over the conversations.")
  @Min(0)
  public Double epochs;

  @JsonPropertyDescription("Sequences per optimizer step over all ranks.")
  @Min(1)
  public Integer globalBatch;

  @JsonPropertyDescription("Sequences per forward pass on one rank.")
  @Min(1)
  public Integer microBatch;

  @JsonPropertyDescription("Peak learning rate.")
  @Min(0)
  public Double lr;

  @JsonPropertyDescription("Warmup as a share of the steps (0.03).")
  @Min(0)
  @Max(1)
  public Double warmup;

  @JsonPropertyDescription("AdamW weight decay.")
  @Min(0)
  public Double weightDecay;

  @JsonPropertyDescription("Global gradient-norm bound.")
  @Min(0)
  public Double clip;

  @JsonPropertyDescription("Seed of the data order and initialisation.")
  public Long seed;

  @JsonPropertyDescription(
      "PretrainRun: document (the default: each packed sample attends to itself only) or"
          + " continuous (one causal mask per sequence, as Open-Qwen2VL trained).")
  @Pattern("^(continuous|document)$")
  public String attention;

  @JsonPropertyDescription("ZeRO stage 0, 1 or 2.")
  @Min(0)
  @Max(2)
  public Integer zero;

  @JsonPropertyDescription("Peak dense TFLOP/s of one GPU, for the MFU (312 for an A100 bf16).")
  @Min(0)
  public Double peakTflops;

  @JsonPropertyDescription("The MFU the run should reach (0 to 1); an alert fires under half.")
  @Min(0)
  @Max(1)
  public Double mfuTarget;

  @JsonPropertyDescription(
      "Steps with a non-finite loss or gradient skipped before the run fails (default 10).")
  @Min(0)
  public Integer maxBadSteps;

  @JsonPropertyDescription(
      "Packed sequences (or conversations) that cannot be read or decoded which the run passes"
          + " over, each named in its rank's log, before it fails; counted over all ranks and"
          + " restarts (default 10).")
  @Min(0)
  public Integer maxDamagedSequences;
}
