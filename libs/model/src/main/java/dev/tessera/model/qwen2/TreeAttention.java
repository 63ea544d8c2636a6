package dev.tessera.model.qwen2;

/**
 * Attention of a few continuation tokens over cached prompts, on the host: token {@code j}
 * continues prompt row {@code rows[j]} and attends to that prompt's keys (its first {@code
 * lengths[row]} positions), then to its ancestors in the continuation tree ({@code parents}, root
 * first) and itself — what causal attention gives each token of the sequence {@code prompt +
 * path-to-token}, without running the prompt again. Grouped-query heads as in {@code Attention}.
 *
 * <p>The continuations are a handful of tokens per prompt (a score's digits), so their dot products
 * with a few hundred cached keys are cheap next to the layer's matmuls.
 */
final class TreeAttention {
  private TreeAttention() {}

  /**
   * @param q [m, Hq*D] the continuation tokens' queries, after RoPE
   * @param k [m, Hkv*D] their keys, after RoPE
   * @param v [m, Hkv*D] their values
   * @param cachedKeys [prefixRows * prefixTokens, Hkv*D] the prompts' keys, after RoPE
   * @param cachedValues [prefixRows * prefixTokens, Hkv*D] the prompts' values
   * @return [m, Hq*D] the attention output
   */
  static float[] forward(
      float[] q,
      float[] k,
      float[] v,
      float[] cachedKeys,
      float[] cachedValues,
      int prefixTokens,
      int[] lengths,
      int[] rows,
      int[] parents,
      int queryHeads,
      int kvHeads,
      int headDim) {
    int m = rows.length;
    int group = queryHeads / kvHeads;
    int qWidth = queryHeads * headDim;
    int kvWidth = kvHeads * headDim;
    double scale = 1 / Math.sqrt(headDim);
    float[] out = new float[m * qWidth];
    int longest = 0;
    for (int length : lengths) {
      longest = Math.max(longest, length);
    }
    double[] scores = new double[longest + m];
    int[] path = new int[m];
    for (int j = 0; j < m; j++) {
      // The token's ancestors, root first, then itself.
      int depth = 0;
      for (int a = j; a >= 0; a = parents[a]) {
        path[depth++] = a;
      }
      int cachedBase = rows[j] * prefixTokens;
      int length = lengths[rows[j]];
      for (int h = 0; h < queryHeads; h++) {
        int qAt = j * qWidth + h * headDim;
        int kvColumn = (h / group) * headDim;
        double max = Double.NEGATIVE_INFINITY;
        for (int s = 0; s < length; s++) {
          scores[s] =
              dot(q, qAt, cachedKeys, (cachedBase + s) * kvWidth + kvColumn, headDim) * scale;
          max = Math.max(max, scores[s]);
        }
        for (int p = 0; p < depth; p++) {
          int token = path[depth - 1 - p];
          scores[length + p] = dot(q, qAt, k, token * kvWidth + kvColumn, headDim) * scale;
          max = Math.max(max, scores[length + p]);
        }
        double sum = 0;
        for (int s = 0; s < length + depth; s++) {
          scores[s] = Math.exp(scores[s] - max);
          sum += scores[s];
        }
        for (int s = 0; s < length + depth; s++) {
          float weight = (float) (scores[s] / sum);
          float[] source;
          int at;
          if (s < length) {
            source = cachedValues;
            at = (cachedBase + s) * kvWidth + kvColumn;
          } else {
            source = v;
            at = path[depth - 1 - (s - length)] * kvWidth + kvColumn;
          }
          for (int i = 0; i < headDim; i++) {
            out[qAt + i] += weight * source[at + i];
          }
        }
      }
    }
    return out;
  }

  private static double dot(float[] a, int aAt, float[] b, int bAt, int n) {
    float sum = 0;
    for (int i = 0; i < n; i++) {
      sum += a[aAt + i] * b[bAt + i];
    }
    return sum;
  }
}
