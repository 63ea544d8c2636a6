package dev.tessera.model.siglip;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.Matmul;
import dev.tessera.model.Parameters;
import dev.tessera.model.config.ModelParameters;
import dev.tessera.model.config.SiglipTextConfig;
import dev.tessera.model.encoder.CaptionEmbeddings;
import dev.tessera.model.encoder.PreNormEncoder;

/**
 * The SigLIP text tower (Hugging Face {@code SiglipTextModel}), frozen: forward only.
 *
 * <pre>{@code
 * x = token_embedding[ids] + position_embedding[0..T)      (T tokens per caption, padded)
 * x = encoder(x)                                           (no mask: SigLIP reads the padding too)
 * embedding = head(final_layer_norm(x)[:, T-1])            (the last position, whatever it holds)
 * }</pre>
 *
 * SigLIP was trained on captions padded to {@code max_position_embeddings} tokens and pools the
 * last position, so callers pad every caption to that length as its tokenizer does. Weights under
 * Hugging Face names ({@link ModelParameters#siglipText}).
 */
public final class SiglipTextTower {
  private final SiglipTextConfig config;
  private final Backend backend;
  private final Parameters parameters;
  private final PreNormEncoder encoder;

  /** A tower with its own zero-filled parameter store; load or initialise it before use. */
  public SiglipTextTower(Backend backend, SiglipTextConfig config) {
    this(backend, config, new Parameters(backend, ModelParameters.siglipText(config)));
  }

  /** A tower reading its weights from a store laid out by {@link ModelParameters#siglipText}. */
  public SiglipTextTower(Backend backend, SiglipTextConfig config, Parameters parameters) {
    this.config = config;
    this.backend = backend;
    this.parameters = parameters;
    this.encoder =
        new PreNormEncoder(
            backend,
            parameters,
            "text_model.encoder.layers",
            config.numHiddenLayers(),
            config.hiddenSize(),
            config.numAttentionHeads(),
            config.intermediateSize(),
            config.layerNormEps(),
            config.hiddenAct(),
            false);
  }

  public SiglipTextConfig config() {
    return config;
  }

  public Parameters parameters() {
    return parameters;
  }

  /**
   * {@code SiglipTextModel}'s {@code pooler_output}: the text embedding of each caption.
   *
   * @param ids {@code batch} captions of {@code tokens} ids each, row after row (padded)
   * @return [batch, projectionSize]
   */
  public Tensor embed(int[] ids, int batch, int tokens) {
    int hidden = config.hiddenSize();
    Tensor x = CaptionEmbeddings.of(backend, parameters, ids, batch, tokens);
    encoder.forward(x, encoder.numLayers());
    // Only the last position is pooled: normalise just those rows.
    Tensor last = backend.zeros(batch, hidden);
    for (int b = 0; b < batch; b++) {
      backend.copy(x.get(b).slice((long) (tokens - 1) * hidden, hidden), last.get(b));
    }
    backend.release(x);
    Tensor normed =
        encoder.layerNorm(
            last,
            parameters.value("text_model.final_layer_norm.weight"),
            parameters.value("text_model.final_layer_norm.bias"));
    Tensor embedding = backend.zeros(batch, config.projectionSize());
    Matmul.forward(
        embedding,
        normed,
        parameters.value("text_model.head.weight"),
        parameters.value("text_model.head.bias"));
    backend.release(last, normed);
    return embedding;
  }
}
