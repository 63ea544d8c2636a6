package dev.tessera.model.vlm;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.CrossEntropy;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.qwen2.Qwen2Decoder;

/**
 * The trainable part of Open-Qwen2VL: the projector and the Qwen2 decoder. Vision features come
 * from the frozen SigLIP tower (computed once per image, or cached); the projector turns each
 * image's features into visual tokens, which replace the image positions of the packed rows.
 */
public final class OpenQwen2VL {
  private final Backend backend;
  private final AvgPoolProjector projector;
  private final Qwen2Decoder decoder;

  public OpenQwen2VL(Backend backend, AvgPoolProjector projector, Qwen2Decoder decoder) {
    this.backend = backend;
    this.projector = projector;
    this.decoder = decoder;
  }

  public AvgPoolProjector projector() {
    return projector;
  }

  public Qwen2Decoder decoder() {
    return decoder;
  }

  /**
   * Forward and backward of one batch; returns the mean loss and accumulates the gradients of the
   * projector and the decoder.
   *
   * @param batch packed rows; {@code useEmbeds} marks the visual positions, {@link
   *     AvgPoolProjector#tokensPerImage()} consecutive ones per image, images in row order
   * @param features [images, patches, Dv] the frozen tower's features of those images
   */
  public double forwardBackward(Qwen2Batch batch, Tensor features) {
    long valid = CrossEntropy.countValid(batch.targets());
    if (valid == 0) {
      throw new IllegalArgumentException("the batch has no targets (all -100)");
    }
    return forwardBackwardSum(batch, features, 1.0 / valid) / valid;
  }

  /**
   * As {@link #forwardBackward}, for one micro-batch of a larger batch: returns the sum of the
   * token losses and accumulates the gradients of that sum times {@code gradientScale} (see {@link
   * Qwen2Decoder#forwardBackwardSum}).
   */
  public double forwardBackwardSum(Qwen2Batch batch, Tensor features, double gradientScale) {
    int images = features.dim(0);
    int hidden = decoder.config().hiddenSize();
    int visual = images * projector.tokensPerImage();
    int[] positions = visualPositions(batch, visual);

    Tensor tokens = backend.zeros(visual, hidden);
    AvgPoolProjector.Activations projected = projector.forward(features, tokens);
    Qwen2Batch withImages = spliced(batch, tokens, positions);
    Tensor dEmbeds = backend.zeros(batch.rows() * batch.tokens(), hidden);
    double loss = decoder.forwardBackwardSum(withImages, dEmbeds, gradientScale);

    Tensor dTokens = backend.zeros(visual, hidden);
    for (int i = 0; i < visual; i++) {
      backend.copy(dEmbeds.get(positions[i]), dTokens.get(i));
    }
    projector.backward(projected, dTokens);
    return loss;
  }

  /**
   * Forward only: the sum of the token losses, the very value {@link #forwardBackwardSum} returns,
   * without its backward pass (see {@link Qwen2Decoder#lossSum}).
   */
  public double lossSum(Qwen2Batch batch, Tensor features) {
    Qwen2Batch withImages = projected(batch, features);
    double loss = decoder.lossSum(withImages);
    backend.release(withImages.inputEmbeds());
    return loss;
  }

  /**
   * Forward only: each row's next-token logits ({@code [rows, vocab]}) with the images' projected
   * features in the rows' image positions (see {@link Qwen2Decoder#lastLogits}).
   *
   * @param batch rows whose {@code useEmbeds} marks the visual positions, as for training
   * @param features [images, patches, Dv] the tower's features of the images, in row order
   */
  public Tensor lastLogits(Qwen2Batch batch, Tensor features) {
    Qwen2Batch withImages = projected(batch, features);
    Tensor logits = decoder.lastLogits(withImages);
    backend.release(withImages.inputEmbeds());
    return logits;
  }

  /**
   * Forward only: the batch with the images' projected features spliced in at its image positions;
   * the caller releases its input embeddings.
   */
  private Qwen2Batch projected(Qwen2Batch batch, Tensor features) {
    int visual = features.dim(0) * projector.tokensPerImage();
    int[] positions = visualPositions(batch, visual);
    Tensor tokens = backend.empty(visual, decoder.config().hiddenSize());
    projector.forward(features, tokens);
    Qwen2Batch withImages = spliced(batch, tokens, positions);
    backend.release(tokens);
    return withImages;
  }

  /**
   * Prompts with images run once for {@link Qwen2Decoder#extend} (see {@link
   * Qwen2Decoder#prefill}): the projected features spliced in at the rows' image positions.
   *
   * @param lengths each row's prompt length; the rest of the row is padding
   */
  public Qwen2Decoder.Prefix prefill(Qwen2Batch batch, Tensor features, int[] lengths) {
    int visual = features.dim(0) * projector.tokensPerImage();
    int[] positions = visualPositions(batch, visual);
    Tensor tokens = backend.empty(visual, decoder.config().hiddenSize());
    projector.forward(features, tokens);
    Qwen2Batch withImages = spliced(batch, tokens, positions);
    Qwen2Decoder.Prefix prefix = decoder.prefill(withImages, lengths);
    backend.release(tokens, withImages.inputEmbeds());
    return prefix;
  }

  /** The batch with the projected visual tokens in its image positions. */
  private Qwen2Batch spliced(Qwen2Batch batch, Tensor tokens, int[] positions) {
    Tensor embeds = backend.zeros(batch.rows() * batch.tokens(), decoder.config().hiddenSize());
    for (int i = 0; i < positions.length; i++) {
      backend.copy(tokens.get(i), embeds.get(positions[i]));
    }
    return new Qwen2Batch(
        batch.rows(),
        batch.tokens(),
        batch.ids(),
        batch.positions(),
        batch.targets(),
        batch.mask(),
        batch.sampleStarts(),
        embeds,
        batch.useEmbeds());
  }

  /** The flat positions of the visual tokens, checking there is one per projected token. */
  private static int[] visualPositions(Qwen2Batch batch, int expected) {
    if (batch.useEmbeds() == null) {
      throw new IllegalArgumentException("the batch marks no image positions (useEmbeds is null)");
    }
    int[] positions = new int[expected];
    int count = 0;
    for (int i = 0; i < batch.useEmbeds().length; i++) {
      if (batch.useEmbeds()[i]) {
        if (count == expected) {
          throw new IllegalArgumentException(
              "the batch has more image positions than the " + expected + " visual tokens given");
        }
        positions[count++] = i;
      }
    }
    if (count != expected) {
      throw new IllegalArgumentException(
          "the batch has " + count + " image positions, the images give " + expected + " tokens");
    }
    return positions;
  }
}
