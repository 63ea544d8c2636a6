package dev.tessera.model.vlm;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.AdaptiveAvgPool2d;
import dev.tessera.engine.ops.GeluErf;
import dev.tessera.engine.ops.Matmul;
import dev.tessera.model.Parameters;
import dev.tessera.model.config.ModelParameters;

/**
 * Open-Qwen2VL's projector from vision features to LLM embeddings:
 *
 * <pre>{@code
 * features [B, grid*grid, Dv]  (SigLIP patch tokens, row-major grid)
 *   -> AdaptiveAvgPool2d(k, k) -> [B, k*k, Dv]   (27 -> 12: 144 tokens in pre-training; 27: 729 in SFT)
 *   -> Linear(Dv, Dl) -> GELU (exact) -> Linear(Dl, Dl) -> [B*k*k, Dl]
 * }</pre>
 *
 * Pooling has no weights, so one set of MLP weights serves both token counts. The vision tower is
 * frozen: backward stops at the pooled features.
 */
public final class AvgPoolProjector {
  private final Backend backend;
  private final int grid;
  private final int pooled;
  private final int visionHidden;
  private final int llmHidden;
  private final Parameters parameters;

  /** What forward keeps for backward. */
  public record Activations(int images, Tensor pooled, Tensor hidden, Tensor activated) {}

  /**
   * @param grid patches per side of the vision tower's grid (27 for SigLIP-SO400M/14 at 384)
   * @param pooled tokens per side after pooling (12 in pre-training, 27 in fine-tuning)
   */
  public AvgPoolProjector(Backend backend, int visionHidden, int llmHidden, int grid, int pooled) {
    if (pooled < 1 || pooled > grid) {
      throw new IllegalArgumentException("pooled side must be in 1.." + grid + ", got " + pooled);
    }
    this.backend = backend;
    this.grid = grid;
    this.pooled = pooled;
    this.visionHidden = visionHidden;
    this.llmHidden = llmHidden;
    this.parameters = new Parameters(backend, ModelParameters.projector(visionHidden, llmHidden));
  }

  public Parameters parameters() {
    return parameters;
  }

  /** Visual tokens per image. */
  /** Side of the tower's patch grid this projector pools. */
  public int grid() {
    return grid;
  }

  /** Side of the pooled grid: {@code tokensPerImage() = pooled()²}. */
  public int pooled() {
    return pooled;
  }

  public int tokensPerImage() {
    return pooled * pooled;
  }

  /**
   * @param features [B, grid*grid, Dv]
   * @param out [B*k*k, Dl] the visual tokens, image by image
   */
  public Activations forward(Tensor features, Tensor out) {
    int images = features.dim(0);
    features.requireShape("features", images, grid * grid, visionHidden);
    int tokens = images * tokensPerImage();
    out.requireShape("out", tokens, llmHidden);
    Tensor pooledFeatures = backend.zeros(images, tokensPerImage(), visionHidden);
    AdaptiveAvgPool2d.forward(pooledFeatures, features, grid, grid, pooled, pooled);
    Tensor flat = pooledFeatures.view(tokens, visionHidden);
    Tensor hidden = backend.zeros(tokens, llmHidden);
    Matmul.forward(
        hidden, flat, parameters.value("projector.0.weight"), parameters.value("projector.0.bias"));
    Tensor activated = backend.zeros(tokens, llmHidden);
    GeluErf.forward(activated, hidden);
    Matmul.forward(
        out,
        activated,
        parameters.value("projector.2.weight"),
        parameters.value("projector.2.bias"));
    return new Activations(images, flat, hidden, activated);
  }

  /** Accumulates the MLP's gradients from {@code dout} [B*k*k, Dl]. */
  public void backward(Activations a, Tensor dout) {
    int tokens = a.images() * tokensPerImage();
    dout.requireShape("dout", tokens, llmHidden);
    Tensor dActivated = backend.zeros(tokens, llmHidden);
    Matmul.backward(
        dActivated,
        parameters.grad("projector.2.weight"),
        parameters.grad("projector.2.bias"),
        dout,
        a.activated(),
        parameters.value("projector.2.weight"));
    Tensor dHidden = backend.zeros(tokens, llmHidden);
    GeluErf.backward(dHidden, dActivated, a.hidden());
    Matmul.backward(
        null,
        parameters.grad("projector.0.weight"),
        parameters.grad("projector.0.bias"),
        dHidden,
        a.pooled(),
        parameters.value("projector.0.weight"));
  }
}
