package dev.tessera.model.qwen2;

import static dev.tessera.engine.oracle.Torch.assertClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.engine.oracle.Torch;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.oracle.TorchQwen2;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Prefilled prompts and their continuation trees against libtorch running each whole sequence
 * (prompt + the path to a token) from scratch.
 */
class Qwen2PrefixTest {
  private final CpuBackend cpu = CpuBackend.get();

  @Test
  void continuationsGiveTheLogitsOfTheWholeSequences() {
    Qwen2Config config = new Qwen2Config(32, 48, 2, 4, 2, 97, 1e-6, 10000.0, false, 64, "float32");
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, config, false);
    decoder.parameters().initialise(31, 0.2);
    TorchQwen2 reference = TorchQwen2.copyOf(config, decoder.parameters());
    Random random = new Random(5);
    int tokens = 11;
    int[] lengths = {11, 7};
    int[][] prompts = new int[2][];
    int[] ids = new int[2 * tokens];
    for (int r = 0; r < 2; r++) {
      prompts[r] = new int[lengths[r]];
      for (int t = 0; t < lengths[r]; t++) {
        prompts[r][t] = random.nextInt(97);
        ids[r * tokens + t] = prompts[r][t];
      }
    }
    // Row 1's padding holds arbitrary ids: causal attention keeps them out of the prompt.
    for (int t = lengths[1]; t < tokens; t++) {
      ids[tokens + t] = 90;
    }
    // Image-like spliced embeddings at two positions of row 0.
    boolean[] useEmbeds = new boolean[2 * tokens];
    useEmbeds[2] = useEmbeds[3] = true;
    float[] embeds = Torch.randn(random, 2 * tokens * 32, 0.5);
    Qwen2Batch batch =
        new Qwen2Batch(
            2,
            tokens,
            ids,
            positions(2, tokens),
            new int[2 * tokens],
            AttentionMask.CONTINUOUS,
            null,
            cpu.fromHost(embeds, 2 * tokens, 32),
            useEmbeds);
    Qwen2Decoder.Prefix prefix = decoder.prefill(batch, lengths);

    // Row 0: 41 and 42 after the prompt, 43 after 41, 44 after 43; row 1: 45, then 46 after it.
    int[] rows = {0, 0, 0, 1, 0, 1};
    int[] next = {41, 42, 43, 45, 44, 46};
    int[] parents = {-1, -1, 0, -1, 2, 3};
    Tensor logits = decoder.extend(prefix, rows, next, parents);
    assertThat(logits.shape()).containsExactly(6, 97);
    float[] actual = cpu.toHost(logits);
    int[][] paths = {{41}, {42}, {41, 43}, {45}, {41, 43, 44}, {45, 46}};
    for (int j = 0; j < paths.length; j++) {
      int r = rows[j];
      int[] sequence = concat(prompts[r], paths[j]);
      float[] whole = wholeLogits(reference, sequence, r == 0 ? embeds : null, r == 0 ? 2 : -1);
      int last = sequence.length - 1;
      assertClose(
          "token " + j,
          Arrays.copyOfRange(actual, j * 97, (j + 1) * 97),
          Arrays.copyOfRange(whole, last * 97, (last + 1) * 97));
    }
    float[] prompt = cpu.toHost(prefix.lastLogits());
    for (int r = 0; r < 2; r++) {
      float[] whole = wholeLogits(reference, prompts[r], r == 0 ? embeds : null, r == 0 ? 2 : -1);
      int last = lengths[r] - 1;
      assertClose(
          "prompt " + r,
          Arrays.copyOfRange(prompt, r * 97, (r + 1) * 97),
          Arrays.copyOfRange(whole, last * 97, (last + 1) * 97));
    }

    assertThatThrownBy(() -> decoder.extend(prefix, new int[] {0}, new int[] {1}, new int[] {0}))
        .hasMessageContaining("parent 0");
    assertThatThrownBy(
            () -> decoder.extend(prefix, new int[] {0, 1}, new int[] {1, 2}, new int[] {-1, 0}))
        .hasMessageContaining("an earlier token of its row");
    assertThatThrownBy(() -> decoder.extend(prefix, new int[] {2}, new int[] {1}, new int[] {-1}))
        .hasMessageContaining("continues row 2 of a prefix of 2");
    assertThatThrownBy(() -> decoder.prefill(batch, new int[] {11, 12}))
        .hasMessageContaining("length 12 is outside 1..11");
    assertThatThrownBy(() -> decoder.append(prefix, 1))
        .hasMessageContaining("a one-row prefix, not one of 2");
  }

  /** Libtorch logits of a whole row; row 0's embeddings replace positions 2 and 3. */
  private static float[] wholeLogits(
      TorchQwen2 reference, int[] sequence, float[] embeds, int firstImage) {
    long[] ids = Arrays.stream(sequence).asLongStream().toArray();
    if (embeds == null) {
      return reference.logits(ids);
    }
    boolean[] use = new boolean[sequence.length];
    use[firstImage] = use[firstImage + 1] = true;
    return reference.logits(ids, Arrays.copyOf(embeds, sequence.length * 32), use);
  }

  private static int[] positions(int rows, int tokens) {
    int[] positions = new int[rows * tokens];
    for (int i = 0; i < positions.length; i++) {
      positions[i] = i % tokens;
    }
    return positions;
  }

  private static int[] concat(int[] a, int[] b) {
    int[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
