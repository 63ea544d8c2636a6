package dev.tessera.engine.optim;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Device;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.cpu.FastMath;
import dev.tessera.engine.cpu.Parallel;
import dev.tessera.engine.ops.DeviceKernels;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * AdamW with decoupled weight decay, as {@code torch.optim.AdamW} (no amsgrad): for each parameter
 * {@code p} with gradient {@code g}, at step {@code t = 1, 2, ...}
 *
 * <pre>
 *   p -= lr * weightDecay * p                  (decaying parameters only)
 *   m  = beta1 * m + (1 - beta1) * g
 *   v  = beta2 * v + (1 - beta2) * g^2
 *   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * </pre>
 *
 * <p>Parameters come as a list of {@link Param}s (name, value, gradient); they may be separate
 * tensors or views of one flat buffer. Two groups are formed as in the usual GPT / Qwen recipes:
 * parameters of rank 2 and above (matrices, embeddings) decay; rank-1 parameters (biases, norm
 * weights) and scalars do not. The optimizer owns one flat {@code m} and one flat {@code v} holding
 * every parameter's moments in list order (fp32 tensors on the parameters' backend); {@link
 * #exportState} and {@link #importState} move them, with the step count, in and out of checkpoints
 * so a resumed run continues bit for bit.
 *
 * <p>The update is element-wise, parallel over elements, so results do not depend on the thread
 * count. Gradients are read, never modified.
 */
public final class AdamW {
  /**
   * A trainable tensor and its gradient.
   *
   * @param name unique name (used in messages and by {@link #decays})
   * @param value the parameter, updated in place
   * @param grad same number of elements as {@code value}
   */
  public record Param(String name, Tensor value, Tensor grad) {
    public Param {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(value, "value of " + name);
      Objects.requireNonNull(grad, "grad of " + name);
      grad.requireSize("grad of " + name, value.size());
    }
  }

  /**
   * Optimizer state for checkpoints.
   *
   * @param step updates taken so far
   * @param m first moments of all parameters, concatenated in parameter-list order
   * @param v second moments, same layout
   */
  public record State(long step, float[] m, float[] v) {}

  private final List<Param> params;
  private final boolean[] decay;
  private final int[] stateOffset;
  private final Tensor mState;
  private final Tensor vState;
  private final double beta1;
  private final double beta2;
  private final double eps;
  private final double weightDecay;
  private long step;

  /**
   * @param params parameters to optimise, with unique names, all on one backend
   * @param beta1 first-moment decay in [0, 1)
   * @param beta2 second-moment decay in [0, 1)
   * @param eps added to the bias-corrected {@code sqrt(v)}, > 0
   * @param weightDecay decoupled decay for rank >= 2 parameters, >= 0
   */
  public AdamW(List<Param> params, double beta1, double beta2, double eps, double weightDecay) {
    if (!(beta1 >= 0 && beta1 < 1)) {
      throw new IllegalArgumentException("beta1 must be in [0, 1), got " + beta1);
    }
    if (!(beta2 >= 0 && beta2 < 1)) {
      throw new IllegalArgumentException("beta2 must be in [0, 1), got " + beta2);
    }
    if (!(eps > 0)) {
      throw new IllegalArgumentException("eps must be > 0, got " + eps);
    }
    if (!(weightDecay >= 0)) {
      throw new IllegalArgumentException("weightDecay must be >= 0, got " + weightDecay);
    }
    this.params = List.copyOf(params);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.decay = new boolean[this.params.size()];
    this.stateOffset = new int[this.params.size() + 1];
    Set<String> names = new HashSet<>();
    long total = 0;
    for (int i = 0; i < this.params.size(); i++) {
      Param param = this.params.get(i);
      if (!names.add(param.name())) {
        throw new IllegalArgumentException("duplicate parameter name " + param.name());
      }
      for (Tensor tensor : new Tensor[] {param.value(), param.grad()}) {
        if (tensor.backend() != this.params.get(0).value().backend()) {
          throw new IllegalArgumentException(
              "parameter "
                  + param.name()
                  + " lives on "
                  + tensor.device()
                  + ", the first parameter on "
                  + this.params.get(0).value().device()
                  + ": one optimizer updates one backend's tensors");
        }
      }
      decay[i] = param.value().rank() >= 2;
      stateOffset[i] = Math.toIntExact(total);
      total += param.value().size();
      if (total > Integer.MAX_VALUE - 8) {
        throw new IllegalArgumentException("parameters exceed one Java array: " + total);
      }
    }
    stateOffset[this.params.size()] = (int) total;
    Backend backend =
        this.params.isEmpty() ? CpuBackend.get() : this.params.get(0).value().backend();
    this.mState = backend.zeros((int) total);
    this.vState = backend.zeros((int) total);
  }

  /** {@code torch.optim.AdamW} defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01. */
  public AdamW(List<Param> params) {
    this(params, 0.9, 0.999, 1e-8, 0.01);
  }

  /** Whether weight decay applies to the parameter called {@code name} (rank >= 2). */
  public boolean decays(String name) {
    for (int i = 0; i < params.size(); i++) {
      if (params.get(i).name().equals(name)) {
        return decay[i];
      }
    }
    throw new IllegalArgumentException("no parameter named " + name);
  }

  /** The parameters, in the order of the state layout. */
  public List<Param> params() {
    return params;
  }

  /** Number of elements over all parameters (the length of each exported moment array). */
  public int stateSize() {
    return mState.intSize();
  }

  /** Updates taken so far. */
  public long step() {
    return step;
  }

  /**
   * One update of every parameter from its current gradient.
   *
   * @param lr learning rate for this step (e.g. from {@link LrSchedule#lr})
   */
  public void step(double lr) {
    step(lr, 1f);
  }

  /**
   * One update of every parameter from its current gradient times {@code gradScale}: the clipping
   * coefficient of {@link GradClip#coefficient}, applied inside the update instead of by a pass of
   * its own over the gradients (the same products, so the same bits as scaling first; the gradients
   * are left as they are).
   */
  public void step(double lr, float gradScale) {
    if (!(lr >= 0) || Double.isInfinite(lr)) {
      throw new IllegalArgumentException("lr must be finite and >= 0, got " + lr);
    }
    if (!(gradScale > 0) || Float.isInfinite(gradScale)) {
      throw new IllegalArgumentException("gradScale must be finite and > 0, got " + gradScale);
    }
    step++;
    double bias1 = 1 - Math.pow(beta1, step);
    double bias2 = 1 - Math.pow(beta2, step);
    float b1 = (float) beta1;
    float b2 = (float) beta2;
    float oneMinusB1 = (float) (1 - beta1);
    float oneMinusB2 = (float) (1 - beta2);
    float stepSize = (float) (lr / bias1);
    float rsqrtBias2 = (float) (1 / Math.sqrt(bias2));
    float epsF = (float) eps;
    if (mState.device() != Device.CPU) {
      DeviceKernels kernels = mState.backend().kernels();
      for (int i = 0; i < params.size(); i++) {
        Param param = params.get(i);
        int size = param.value().intSize();
        kernels.adamw(
            param.value(),
            param.grad(),
            mState.slice(stateOffset[i], size),
            vState.slice(stateOffset[i], size),
            b1,
            oneMinusB1,
            b2,
            oneMinusB2,
            decay[i] ? (float) (1 - lr * weightDecay) : 1f,
            stepSize,
            rsqrtBias2,
            epsF,
            gradScale);
      }
      return;
    }
    float[] m = CpuBackend.data(mState);
    float[] v = CpuBackend.data(vState);
    for (int i = 0; i < params.size(); i++) {
      Param param = params.get(i);
      float[] p = CpuBackend.data(param.value());
      float[] g = CpuBackend.data(param.grad());
      int pOff = CpuBackend.offset(param.value());
      int gOff = CpuBackend.offset(param.grad());
      int sOff = stateOffset[i];
      float keep = decay[i] ? (float) (1 - lr * weightDecay) : 1f;
      Parallel.forRange(
          param.value().intSize(),
          16384,
          (from, to) ->
              FastMath.adamw(
                  p,
                  pOff + from,
                  g,
                  gOff + from,
                  m,
                  v,
                  sOff + from,
                  to - from,
                  b1,
                  oneMinusB1,
                  b2,
                  oneMinusB2,
                  keep,
                  stepSize,
                  rsqrtBias2,
                  epsF,
                  gradScale));
    }
  }

  /** A copy of the moments and step count, for a checkpoint. */
  public State exportState() {
    Backend backend = mState.backend();
    return new State(step, backend.toHost(mState), backend.toHost(vState));
  }

  /** Restores what {@link #exportState} returned, for the same parameter list. */
  public void importState(State state) {
    if (state.step() < 0) {
      throw new IllegalArgumentException("state.step must be >= 0, got " + state.step());
    }
    int size = mState.intSize();
    if (state.m().length != size || state.v().length != size) {
      throw new IllegalArgumentException(
          "state has "
              + state.m().length
              + " / "
              + state.v().length
              + " moments, this optimizer's parameters have "
              + size);
    }
    Backend backend = mState.backend();
    backend.copyFromHost(state.m(), mState);
    backend.copyFromHost(state.v(), vState);
    step = state.step();
  }

  /** Names of the decaying and non-decaying parameters, for logs. */
  @Override
  public String toString() {
    List<String> decayed = new ArrayList<>();
    List<String> kept = new ArrayList<>();
    for (int i = 0; i < params.size(); i++) {
      (decay[i] ? decayed : kept).add(params.get(i).name());
    }
    return "AdamW(betas=("
        + beta1
        + ", "
        + beta2
        + "), eps="
        + eps
        + ", weightDecay="
        + weightDecay
        + ", decay="
        + decayed
        + ", noDecay="
        + kept
        + ", step="
        + step
        + ")";
  }

  /** The element offsets of each parameter's moments in the exported arrays. */
  public int[] stateOffsets() {
    return Arrays.copyOf(stateOffset, stateOffset.length);
  }
}
