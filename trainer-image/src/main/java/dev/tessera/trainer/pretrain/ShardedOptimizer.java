package dev.tessera.trainer.pretrain;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.dist.Collective;
import dev.tessera.engine.optim.AdamW;
import dev.tessera.engine.optim.GradClip;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW with its state sharded over the ranks (ZeRO stages 1 and 2) at the granularity of
 * parameters: each parameter belongs to one rank (largest first, to the least loaded rank), which
 * alone keeps its moments and updates it; the owner then broadcasts the new values to every rank.
 * Every parameter's update is the same arithmetic as without sharding, so the result is the same
 * bits; each rank holds about 1/R of the moments. With stage 0 every rank owns every parameter.
 */
final class ShardedOptimizer {
  private final List<AdamW.Param> params;
  private final int stage;
  private final int[] owner;
  private final Collective collective;
  private final AdamW local;
  private final List<AdamW.Param> owned = new ArrayList<>();
  private long updates;

  /** The clipping coefficient of the last {@link #reduceAndClip}, applied by {@link #step}. */
  private float gradScale = 1f;

  ShardedOptimizer(
      List<AdamW.Param> params, int zeroStage, Collective collective, double weightDecay) {
    this.params = List.copyOf(params);
    this.stage = zeroStage;
    this.collective = collective;
    this.owner = zeroStage >= 1 ? owners(this.params, collective.size()) : null;
    for (int i = 0; i < this.params.size(); i++) {
      if (owns(i)) {
        owned.add(this.params.get(i));
      }
    }
    this.local = owned.isEmpty() ? null : new AdamW(owned, 0.9, 0.999, 1e-8, weightDecay);
  }

  /** Largest parameter first, each to the rank with the fewest elements so far (ties: lowest). */
  static int[] owners(List<AdamW.Param> params, int ranks) {
    Integer[] order = new Integer[params.size()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(
        order,
        Comparator.comparingLong((Integer i) -> -params.get(i).value().size())
            .thenComparingInt(i -> i));
    long[] load = new long[ranks];
    int[] owner = new int[params.size()];
    for (int i : order) {
      int least = 0;
      for (int r = 1; r < ranks; r++) {
        least = load[r] < load[least] ? r : least;
      }
      owner[i] = least;
      load[least] += params.get(i).value().size();
    }
    return owner;
  }

  private boolean owns(int param) {
    return owner == null || owner[param] == collective.rank();
  }

  /**
   * Sums the ranks' gradients — all of them everywhere, or (stage 2) each parameter's on its owner
   * — and clips them to {@code maxNorm} by their global norm. The clipping factor is applied by the
   * next {@link #step}, inside the update (one pass over the gradients fewer); the gradient buffers
   * keep their unclipped sums.
   *
   * @param flatGrads the gradient buffers behind the parameters' gradients
   * @return the global norm before clipping
   */
  double reduceAndClip(List<Tensor> flatGrads, double maxNorm) {
    if (stage < 2) {
      for (Tensor grad : flatGrads) {
        collective.allReduceSum(grad);
      }
      double norm = GradClip.globalNorm(flatGrads);
      gradScale = GradClip.coefficient(norm, maxNorm);
      return norm;
    }
    for (int i = 0; i < params.size(); i++) {
      collective.reduceSum(params.get(i).grad(), owner[i]);
    }
    List<Tensor> ownedGrads = owned.stream().map(AdamW.Param::grad).toList();
    double local = ownedGrads.isEmpty() ? 0 : GradClip.globalNorm(ownedGrads);
    double norm = Math.sqrt(collective.allReduceSum(local * local));
    gradScale = GradClip.coefficient(norm, maxNorm);
    return norm;
  }

  /** Applies one update: each owner updates its parameters, then shares their new values. */
  void step(double lr) {
    if (local != null) {
      local.step(lr, gradScale);
    }
    gradScale = 1f;
    updates++;
    if (owner != null) {
      for (int i = 0; i < params.size(); i++) {
        collective.broadcast(params.get(i).value(), owner[i]);
      }
    }
  }

  /** Moments ({@code m}, {@code v}) of every parameter by name, gathered on every rank. */
  Map<String, float[][]> gatherMoments() {
    AdamW.State state = local == null ? null : local.exportState();
    int[] offsets = local == null ? null : local.stateOffsets();
    Map<String, float[][]> moments = new LinkedHashMap<>();
    int ownedIndex = 0;
    for (int i = 0; i < params.size(); i++) {
      AdamW.Param param = params.get(i);
      int size = param.value().intSize();
      float[] m = new float[size];
      float[] v = new float[size];
      if (owns(i)) {
        System.arraycopy(state.m(), offsets[ownedIndex], m, 0, size);
        System.arraycopy(state.v(), offsets[ownedIndex], v, 0, size);
        ownedIndex++;
      }
      if (owner != null) {
        collective.broadcast(m, 0, size, owner[i]);
        collective.broadcast(v, 0, size, owner[i]);
      }
      moments.put(param.name(), new float[][] {m, v});
    }
    return moments;
  }

  /** Updates taken so far: the same on every rank, owner of parameters or not. */
  long steps() {
    return updates;
  }

  /** Restores this rank's share from per-parameter moments (as {@link #gatherMoments} gives). */
  void load(long step, Map<String, float[][]> moments) {
    updates = step;
    if (local == null) {
      return;
    }
    int total = owned.stream().mapToInt(p -> p.value().intSize()).sum();
    float[] m = new float[total];
    float[] v = new float[total];
    int at = 0;
    for (AdamW.Param param : owned) {
      float[][] pair = moments.get(param.name());
      if (pair == null || pair[0].length != param.value().intSize()) {
        throw new IllegalArgumentException(
            "the checkpoint's optimizer state lacks or mis-sizes " + param.name());
      }
      System.arraycopy(pair[0], 0, m, at, pair[0].length);
      System.arraycopy(pair[1], 0, v, at, pair[1].length);
      at += pair[0].length;
    }
    local.importState(new AdamW.State(step, m, v));
  }
}
