package dev.tessera.trainer.pretrain;

import dev.tessera.engine.Backend;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.vlm.VisionLanguageModel;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a training run trains: the model it starts from and each rank's stream of micro-batches.
 * Pre-training reads packed sequences; fine-tuning reads conversations. The loop, checkpoints,
 * ranks and metrics are the same ({@link Pretrainer}).
 */
public interface TrainingTask {
  /** Settings of the task that decide the results, for the run's identity. */
  Map<String, Object> identity();

  /** The model with its starting weights (before any checkpoint of the run is restored). */
  VisionLanguageModel buildModel(Backend backend) throws IOException;

  /**
   * Rank {@code rank}'s data from global position {@code position} (0 for a new run).
   *
   * @param model the model, for its image size
   */
  RankData open(VisionLanguageModel model, int rank, int ranks, long position) throws IOException;

  /**
   * Rank {@code rank}'s share of the held-out sequences, in micro-batches of {@code micro}: the
   * same every time it is asked for. Empty when the task holds nothing out.
   */
  default List<MicroBatch> evaluation(VisionLanguageModel model, int rank, int ranks, int micro)
      throws IOException {
    return List.of();
  }

  /**
   * Rank {@code rank}'s share of {@code count} held-out items — {@code rank, rank + ranks, ...} —
   * in micro-batches of at most {@code micro}.
   */
  static List<List<Integer>> evaluationShare(int count, int rank, int ranks, int micro) {
    List<List<Integer>> groups = new ArrayList<>();
    List<Integer> group = new ArrayList<>();
    for (int i = rank; i < count; i += ranks) {
      group.add(i);
      if (group.size() == micro) {
        groups.add(group);
        group = new ArrayList<>();
      }
    }
    if (!group.isEmpty()) {
      groups.add(group);
    }
    return groups;
  }

  /** One rank's stream of micro-batches. */
  interface RankData extends AutoCloseable {
    /** This rank's share of a step: {@code sequences} rows in micro-batches of {@code micro}. */
    List<MicroBatch> nextStep(int sequences, int micro) throws IOException;

    /** The global position of the next row this rank will take (for checkpoints on rank 0). */
    long nextPosition();

    /** The damaged rows this rank has passed over in the steps read so far. */
    PassedOver passedOver();

    @Override
    void close();
  }

  /**
   * One micro-batch.
   *
   * @param batch the decoder batch (visual positions marked)
   * @param targets positions with a target
   * @param pixels the images' preprocessed pixels, [images, 3, S, S] flattened, in row order
   * @param images how many images
   * @param tokens real (non-padding) positions
   */
  record MicroBatch(Qwen2Batch batch, long targets, float[] pixels, int images, long tokens) {}
}
