package dev.tessera.model.clip;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.Matmul;
import dev.tessera.model.Parameters;
import dev.tessera.model.config.ClipConfig;
import dev.tessera.model.config.ModelParameters;
import dev.tessera.model.encoder.CaptionEmbeddings;
import dev.tessera.model.encoder.PreNormEncoder;

/**
 * The CLIP text tower with its projection (Hugging Face {@code CLIPTextTransformer} and {@code
 * CLIPModel.text_projection}), frozen: forward only.
 *
 * <pre>{@code
 * x = token_embedding[ids] + position_embedding[0..T)
 * x = final_layer_norm(encoder(x))                        (causal)
 * text_embeds = x[:, eos] Wproj^T                         (no bias)
 * }</pre>
 *
 * {@code eos} is the first position holding {@code eos_token_id}, or, for the original OpenAI
 * configs ({@code eos_token_id} 2), the first position of the largest id, as Hugging Face pools.
 * Attention is causal, so whatever follows the end-of-text token (padding) cannot change the
 * embedding: captions of a batch need only be padded to the longest.
 */
public final class ClipTextTower {
  private final ClipConfig config;
  private final Backend backend;
  private final Parameters parameters;
  private final PreNormEncoder encoder;

  /** A tower reading its weights from a store laid out by {@link ModelParameters#clipText}. */
  public ClipTextTower(Backend backend, ClipConfig config, Parameters parameters) {
    ClipConfig.Text text = config.text();
    this.config = config;
    this.backend = backend;
    this.parameters = parameters;
    this.encoder =
        new PreNormEncoder(
            backend,
            parameters,
            "text_model.encoder.layers",
            text.numHiddenLayers(),
            text.hiddenSize(),
            text.numAttentionHeads(),
            text.intermediateSize(),
            text.layerNormEps(),
            text.hiddenAct(),
            true);
  }

  /** A tower with its own zero-filled parameter store; load or initialise it before use. */
  public ClipTextTower(Backend backend, ClipConfig config) {
    this(backend, config, new Parameters(backend, ModelParameters.clipText(config)));
  }

  public Parameters parameters() {
    return parameters;
  }

  /** The position Hugging Face pools in each caption of {@code tokens} ids. */
  public int[] poolPositions(int[] ids, int batch, int tokens) {
    ClipConfig.Text text = config.text();
    int[] out = new int[batch];
    for (int b = 0; b < batch; b++) {
      int at = 0;
      for (int t = 0; t < tokens; t++) {
        int id = ids[b * tokens + t];
        if (text.poolsLargestId() ? id > ids[b * tokens + at] : id == text.eosTokenId()) {
          at = t;
          if (!text.poolsLargestId()) {
            break;
          }
        }
      }
      out[b] = at;
    }
    return out;
  }

  /**
   * {@code CLIPModel.get_text_features}: the projected end-of-text position of each caption.
   *
   * @param ids {@code batch} captions of {@code tokens} ids each, row after row
   * @return [batch, projectionDim]
   */
  public Tensor embed(int[] ids, int batch, int tokens) {
    ClipConfig.Text text = config.text();
    int hidden = text.hiddenSize();
    Tensor x = CaptionEmbeddings.of(backend, parameters, ids, batch, tokens);
    encoder.forward(x, encoder.numLayers());
    // Layernorm is per position: normalise only the pooled ones.
    int[] pooledAt = poolPositions(ids, batch, tokens);
    Tensor pooled = backend.zeros(batch, hidden);
    for (int b = 0; b < batch; b++) {
      backend.copy(x.get(b).slice((long) pooledAt[b] * hidden, hidden), pooled.get(b));
    }
    backend.release(x);
    Tensor normed =
        encoder.layerNorm(
            pooled,
            parameters.value("text_model.final_layer_norm.weight"),
            parameters.value("text_model.final_layer_norm.bias"));
    Tensor out = backend.zeros(batch, config.projectionDim());
    Matmul.forward(out, normed, parameters.value("text_projection.weight"), null);
    backend.release(pooled, normed);
    return out;
  }
}
