package dev.tessera.model.encoder;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.Add;
import dev.tessera.engine.ops.Embedding;
import dev.tessera.model.Parameters;

/**
 * The input of a CLIP or SigLIP text tower: {@code token_embedding[ids] + position_embedding[0..T)}
 * for a batch of captions, under the Hugging Face names {@code
 * text_model.embeddings.token_embedding.weight} and {@code position_embedding.weight}.
 */
public final class CaptionEmbeddings {
  private CaptionEmbeddings() {}

  /**
   * @param ids {@code batch} captions of {@code tokens} ids each, row after row
   * @return [batch, tokens, hidden]
   * @throws IllegalArgumentException for no captions, more tokens than positions, a count of ids
   *     that does not match, or an id outside the vocabulary
   */
  public static Tensor of(
      Backend backend, Parameters parameters, int[] ids, int batch, int tokens) {
    Tensor table = parameters.value("text_model.embeddings.token_embedding.weight");
    Tensor positions = parameters.value("text_model.embeddings.position_embedding.weight");
    int vocab = table.dim(0);
    int hidden = table.dim(1);
    int maxPositions = positions.dim(0);
    if (batch < 1 || tokens < 1 || tokens > maxPositions) {
      throw new IllegalArgumentException(
          "need at least one caption of 1.."
              + maxPositions
              + " tokens, got "
              + batch
              + " of "
              + tokens);
    }
    if (ids.length != batch * tokens) {
      throw new IllegalArgumentException(
          ids.length + " ids for " + batch + " captions of " + tokens + " tokens");
    }
    for (int id : ids) {
      if (id < 0 || id >= vocab) {
        throw new IllegalArgumentException(
            "token id " + id + " is outside the vocabulary of " + vocab);
      }
    }
    Tensor x = backend.zeros(batch, tokens, hidden);
    Embedding.forward(x.view(batch * tokens, hidden), table, ids, 0);
    Tensor used = positions.slice(0, tokens, hidden);
    for (int b = 0; b < batch; b++) {
      Tensor caption = x.get(b);
      Add.forward(caption, caption, used);
    }
    return x;
  }
}
