package dev.tessera.trainer.pretrain;

import dev.tessera.data.packed.PackedShards;
import dev.tessera.engine.Backend;
import dev.tessera.engine.dist.InProcessCollective;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.model.siglip.SiglipImageProcessor;
import dev.tessera.model.vlm.VisionLanguageModel;
import java.util.ArrayList;
import java.util.List;

/**
 * The language-model loss of a model on packed sequences, measured as the trainer measures its
 * held-out loss: the same micro-batches, the same sums, so a checkpoint measured on the sequences
 * its run held out gives that run's {@code eval_loss} at its step.
 */
public final class Evaluation {
  private Evaluation() {}

  /**
   * @param loss mean loss over the targets
   * @param targets tokens predicted
   * @param sequences sequences measured
   * @param damaged sequences that could not be read or decoded, left out
   */
  public record Result(double loss, long targets, int sequences, List<Integer> damaged) {}

  /**
   * Measures {@code model} on {@code sequences} of {@code shards}, {@code micro} rows at a time,
   * with a forward pass alone (the trainer's held-out pass).
   */
  public static Result measure(
      Backend backend,
      VisionLanguageModel model,
      PackedShards shards,
      int[] sequences,
      int micro,
      AttentionMask attention) {
    SiglipImageProcessor processor = SiglipImageProcessor.forTower(model.tower().config());
    List<Integer> damaged = new ArrayList<>();
    List<TrainingTask.MicroBatch> batches =
        PretrainTask.batches(
            shards, attention, processor, sequences, 0, 1, micro, (s, e) -> damaged.add(s));
    return measure(backend, model, batches, sequences.length, damaged, shards.dir().toString());
  }

  /**
   * Measures {@code model} on prepared {@code batches} of {@code count} sequences (or
   * conversations), {@code damaged} of which could not be read and are not among them; {@code what}
   * names the data in errors.
   */
  public static Result measure(
      Backend backend,
      VisionLanguageModel model,
      List<TrainingTask.MicroBatch> batches,
      int count,
      List<Integer> damaged,
      String what) {
    if (batches.stream().mapToLong(TrainingTask.MicroBatch::targets).sum() == 0) {
      throw new IllegalArgumentException("no targets to measure the loss on in " + what);
    }
    Pretrainer.StepResult measured =
        Pretrainer.pass(
            backend,
            InProcessCollective.group(1).get(0),
            model.vlm(backend),
            model,
            batches,
            false);
    return new Result(
        measured.loss(), measured.targets(), count - damaged.size(), List.copyOf(damaged));
  }
}
