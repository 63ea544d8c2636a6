package dev.tessera.engine.optim;

/**
 * Cosine learning-rate schedule with linear warmup, as Hugging Face's {@code
 * get_cosine_schedule_with_warmup} (and {@code get_cosine_with_min_lr_schedule_with_warmup} when a
 * minimum is set):
 *
 * <pre>
 *   lr(s) = peak * s / warmup                                          for s &lt; warmup
 *   lr(s) = min + (peak - min) * 0.5 * (1 + cos(pi * progress))        otherwise, with
 *   progress = (s - warmup) / max(1, total - warmup), capped at 1
 * </pre>
 *
 * <p><b>Steps count from 0</b>: {@code s} is the number of optimizer updates already taken, so the
 * first update uses {@code lr(0)} (which is 0 when there is warmup, as with HF's {@code LambdaLR}),
 * the update after warmup uses {@code peak}, and {@code lr(total)} is {@code min}. Beyond {@code
 * total} the rate stays at {@code min} (HF's formula would start to rise again).
 */
public final class LrSchedule {
  private final double peakLr;
  private final double minLr;
  private final long warmupSteps;
  private final long totalSteps;

  /**
   * @param peakLr rate reached at the end of warmup, >= 0
   * @param minLr rate at the end of the cosine, in [0, peakLr]
   * @param warmupSteps steps of linear warmup, >= 0
   * @param totalSteps steps of the whole schedule, >= warmupSteps
   */
  public LrSchedule(double peakLr, double minLr, long warmupSteps, long totalSteps) {
    if (!(peakLr >= 0) || Double.isInfinite(peakLr)) {
      throw new IllegalArgumentException("peakLr must be finite and >= 0, got " + peakLr);
    }
    if (!(minLr >= 0 && minLr <= peakLr)) {
      throw new IllegalArgumentException(
          "minLr must be in [0, peakLr = " + peakLr + "], got " + minLr);
    }
    if (warmupSteps < 0) {
      throw new IllegalArgumentException("warmupSteps must be >= 0, got " + warmupSteps);
    }
    if (totalSteps < warmupSteps) {
      throw new IllegalArgumentException(
          "totalSteps (" + totalSteps + ") must be >= warmupSteps (" + warmupSteps + ")");
    }
    this.peakLr = peakLr;
    this.minLr = minLr;
    this.warmupSteps = warmupSteps;
    this.totalSteps = totalSteps;
  }

  /** A schedule whose minimum is {@code minLrRatio * peakLr} (HF's {@code min_lr_rate}). */
  public static LrSchedule withMinRatio(
      double peakLr, double minLrRatio, long warmupSteps, long totalSteps) {
    if (!(minLrRatio >= 0 && minLrRatio <= 1)) {
      throw new IllegalArgumentException("minLrRatio must be in [0, 1], got " + minLrRatio);
    }
    return new LrSchedule(peakLr, peakLr * minLrRatio, warmupSteps, totalSteps);
  }

  /**
   * The rate for the update that follows {@code step} completed updates.
   *
   * @param step updates already taken, >= 0
   */
  public double lr(long step) {
    if (step < 0) {
      throw new IllegalArgumentException("step must be >= 0, got " + step);
    }
    if (step < warmupSteps) {
      return peakLr * step / warmupSteps;
    }
    double progress =
        Math.min(1.0, (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
    return minLr + (peakLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
  }

  public double peakLr() {
    return peakLr;
  }

  public double minLr() {
    return minLr;
  }

  public long warmupSteps() {
    return warmupSteps;
  }

  public long totalSteps() {
    return totalSteps;
  }
}
