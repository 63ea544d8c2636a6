package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import java.util.Map;

/**
 * {@code status.progress}: the workers' latest figures, folded in by the operator. Common fields
 * first; each kind fills its own counters and leaves the others out.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class Progress {
  @JsonPropertyDescription("Share of the work done, 0 to 100.")
  public Double percent;

  @JsonPropertyDescription("Estimated time left, e.g. 1h02m.")
  public String eta;

  @JsonPropertyDescription("When a worker last reported (RFC 3339).")
  public String lastUpdated;

  @JsonPropertyDescription("What the worker is doing.")
  public String message;

  // CurationJob
  @JsonPropertyDescription("Curation phase running: score, select or reshard.")
  public String stage;

  @JsonPropertyDescription("Units of the current stage done (shards scored or written).")
  public Long done;

  @JsonPropertyDescription("Units of the current stage in all.")
  public Long total;

  @JsonPropertyDescription("Samples read (CurationJob, PackJob).")
  public Long samples;

  @JsonPropertyDescription("Samples kept by the curation.")
  public Long kept;

  @JsonPropertyDescription("Samples the reader could not read (damaged tar members, bad images).")
  public Long unreadable;

  @JsonPropertyDescription("Rejected samples by reason.")
  public Map<String, Long> rejections;

  // PackJob
  @JsonPropertyDescription("Packed sequences written.")
  public Long sequences;

  @JsonPropertyDescription("Real tokens over sequences x sequence length.")
  public Double fillRatio;

  @JsonPropertyDescription("The fewest sequences any packing could use: ceil(sum of lengths / L).")
  public Long lowerBoundSequences;

  @JsonPropertyDescription("Samples dropped as longer than a sequence.")
  public Long dropped;

  // PretrainRun, FinetuneRun
  @JsonPropertyDescription("Optimizer steps done.")
  public Long step;

  @JsonPropertyDescription("Optimizer steps in the run.")
  public Long steps;

  @JsonPropertyDescription("Training loss of the latest step.")
  public Double loss;

  @JsonPropertyDescription(
      "false when the latest step's loss was NaN or infinite (loss then keeps the last finite one).")
  public Boolean lossFinite;

  @JsonPropertyDescription("Learning rate of the latest step.")
  public Double lr;

  @JsonPropertyDescription("Gradient norm of the latest step, before clipping.")
  public Double gradNorm;

  @JsonPropertyDescription(
      "Loss on the held-out sequences (spec.evaluation) at the latest measurement.")
  public Double evalLoss;

  @JsonPropertyDescription("Tokens per second over all ranks.")
  public Double tokensPerSecond;

  @JsonPropertyDescription("Model FLOPs utilisation, 0 to 1.")
  public Double mfu;

  @JsonPropertyDescription("Seconds per optimizer step.")
  public Double secondsPerStep;

  @JsonPropertyDescription(
      "Steps not applied because their loss or gradient was not finite, over the whole run"
          + " (training.maxBadSteps is the limit).")
  public Long skippedSteps;

  @JsonPropertyDescription(
      "Packed sequences (or conversations) that could not be read or decoded and were passed"
          + " over, over all ranks and restarts (training.maxDamagedSequences is the limit).")
  public Long damagedSequences;
}
