package dev.tessera.api.v1alpha1;

import static dev.tessera.api.v1alpha1.DistributedSpec.KEEP_BEST_RULE;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.ArrayList;
import java.util.List;

/**
 * The fields a training run shares between pre-training and fine-tuning: nodes and GPUs, the
 * optimizer, checkpoints, where the run writes.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = KEEP_BEST_RULE,
    message =
        "checkpoints.keepBest needs evaluation: the best checkpoint has the lowest held-out"
            + " loss")
public abstract class DistributedSpec extends WorkloadSpec {
  static final String KEEP_BEST_RULE =
      "!has(self.checkpoints) || !has(self.checkpoints.keepBest) || !self.checkpoints.keepBest"
          + " || has(self.evaluation)";

  @JsonPropertyDescription("Run directory (checkpoints, metrics), relative to the volume.")
  @Required
  public String output;

  @JsonPropertyDescription("Nodes (pods), one JVM each (default 1).")
  @Min(1)
  @Max(512)
  public Integer nodes;

  @JsonPropertyDescription("GPUs per node, one rank each; 0 trains on the CPU (default 8).")
  @Min(0)
  @Max(16)
  public Integer gpusPerNode;

  @JsonPropertyDescription("Optimizer, schedule and batch.")
  @Required
  public TrainingSpec training;

  @JsonPropertyDescription("Checkpoint interval and retention.")
  public CheckpointSpec checkpoints;

  @JsonPropertyDescription(
      "Sequences held out of training to measure the loss on: packed sequences for a"
          + " PretrainRun, conversations for a FinetuneRun (default: none).")
  public EvaluationSpec evaluation;

  @JsonPropertyDescription("Shared memory for the data loader, e.g. 16Gi (default 8Gi).")
  public String sharedMemory;

  public int nodesOrDefault() {
    return nodes == null ? 1 : nodes;
  }

  public int gpusPerNodeOrDefault() {
    return gpusPerNode == null ? 8 : gpusPerNode;
  }

  /**
   * The trainer's flags for {@link #training}, {@link #checkpoints} and {@link #evaluation}: what
   * the operator's Jobs and the local runner pass alike.
   */
  public List<String> trainerOptions() {
    List<String> args = new ArrayList<>();
    TrainingSpec t = training;
    if (t != null) {
      WorkerFlags.option(args, "--steps", t.steps);
      WorkerFlags.option(args, "--tokens", t.tokens);
      WorkerFlags.option(args, "--epochs", t.epochs);
      WorkerFlags.option(args, "--global-batch", t.globalBatch);
      WorkerFlags.option(args, "--micro-batch", t.microBatch);
      WorkerFlags.option(args, "--lr", t.lr);
      WorkerFlags.option(args, "--warmup", t.warmup);
      WorkerFlags.option(args, "--weight-decay", t.weightDecay);
      WorkerFlags.option(args, "--clip", t.clip);
      WorkerFlags.option(args, "--seed", t.seed);
      WorkerFlags.option(args, "--attention", t.attention);
      WorkerFlags.option(args, "--zero", t.zero);
      WorkerFlags.option(args, "--peak-tflops", t.peakTflops);
      WorkerFlags.option(args, "--max-bad-steps", t.maxBadSteps);
      WorkerFlags.option(args, "--max-damaged-sequences", t.maxDamagedSequences);
    }
    if (checkpoints != null) {
      WorkerFlags.option(args, "--checkpoint-every", checkpoints.every);
      WorkerFlags.option(args, "--keep-last", checkpoints.keepLast);
      if (Boolean.TRUE.equals(checkpoints.keepBest)) {
        args.add("--keep-best");
      }
    }
    if (evaluation != null) {
      WorkerFlags.option(args, "--eval-sequences", evaluation.sequences);
      WorkerFlags.option(args, "--eval-every", evaluation.every);
    }
    return args;
  }

  /** Ranks over all nodes: one per GPU, or one per node on the CPU. */
  public int worldSize() {
    return nodesOrDefault() * Math.max(1, gpusPerNodeOrDefault());
  }
}
