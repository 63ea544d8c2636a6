package dev.tessera.trainer.pretrain;

import dev.tessera.data.packed.PackedShards;
import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.model.siglip.SiglipImageProcessor;
import dev.tessera.model.vlm.OpenQwen2VL;
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
   * Measures {@code model} on {@code sequences} of {@code shards}, {@code micro} rows at a time.
   * Gradients are computed along the way (the trainer's own pass) and left in the model.
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
    long targets = batches.stream().mapToLong(TrainingTask.MicroBatch::targets).sum();
    if (targets == 0) {
      throw new IllegalArgumentException("no targets to measure the loss on in " + shards.dir());
    }
    OpenQwen2VL vlm = model.vlm(backend);
    int size = model.tower().config().imageSize();
    double lossSum = 0;
    for (TrainingTask.MicroBatch batch : batches) {
      Tensor features =
          model.tower().features(backend.fromHost(batch.pixels(), batch.images(), 3, size, size));
      lossSum += vlm.forwardBackwardSum(batch.batch(), features, 1.0 / targets);
    }
    return new Result(
        lossSum / targets, targets, sequences.length - damaged.size(), List.copyOf(damaged));
  }
}
