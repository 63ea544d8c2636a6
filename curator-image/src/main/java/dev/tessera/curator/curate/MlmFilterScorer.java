package dev.tessera.curator.curate;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.qwen2.Qwen2Decoder;
import dev.tessera.model.text.QwenTokenizer;
import dev.tessera.model.vlm.InferenceModel;
import dev.tessera.model.vlm.OpenQwen2VL;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * MLM-Filter scoring (reference §1.4): a vision-language model is asked, with a metric's prompt
 * template, to rate an image-caption pair from 0 to 100, and its answer is read two ways:
 *
 * <ul>
 *   <li><b>greedy</b> — as the reference does: the digits decoded greedily, up to {@code
 *       maxNewTokens} (3, so "100" is read whole; the reference's 2 reads it as "10");
 *   <li><b>expected</b> — the mean of the integers 0..100 weighted by the model's probability of
 *       writing each (its digits, then anything but a digit), from the distributions after the
 *       prompt, after each first digit, and after "10". Numbers of more digits, and answers that
 *       start with anything but a digit, are left out and the rest renormalised.
 * </ul>
 *
 * <p>The prompt is Qwen's chat layout, the user turn being the image, a newline and the template
 * with {@code {caption}} replaced. The template is the filter model's own (MLM-Filter publishes one
 * per metric: SU, ITM, ODF, CTQ); it comes from the configuration.
 */
public final class MlmFilterScorer {
  /** A score; NaN where the model's answer is not a number. */
  public record Score(double greedy, double expected) {}

  private final QwenTokenizer tokenizer;
  private final String template;
  private final ScoreReadout readout;
  private final InferenceModel model;
  private final OpenQwen2VL vlm;
  private final Backend backend;

  /**
   * @param modelDir a model directory as the trainer writes it, or a LLaVA-style checkpoint ({@link
   *     InferenceModel})
   * @param visionTower a LLaVA checkpoint's tower directory, or null for its {@code
   *     mm_vision_tower}
   * @param pooledSide image tokens per side (0: the checkpoint's)
   * @param template the metric's prompt template, with {@code {caption}} where the caption goes
   */
  public MlmFilterScorer(
      Backend backend,
      Path modelDir,
      Path visionTower,
      QwenTokenizer tokenizer,
      String template,
      int pooledSide,
      int maxNewTokens)
      throws IOException {
    if (!template.contains("{caption}")) {
      throw new IllegalArgumentException("the mlmFilter template has no {caption}");
    }
    this.backend = backend;
    this.tokenizer = tokenizer;
    this.template = template;
    this.model = InferenceModel.load(backend, modelDir, pooledSide, visionTower);
    this.vlm = model.vlm(backend);
    int[] digitIds = new int[10];
    for (int d = 0; d < 10; d++) {
      int[] ids = tokenizer.encodeIds(Integer.toString(d));
      if (ids.length != 1) {
        throw new IllegalArgumentException(
            "the tokenizer does not spell digit " + d + " as one token");
      }
      digitIds[d] = ids[0];
    }
    this.readout = new ScoreReadout(digitIds, maxNewTokens);
  }

  /** The prompt's token ids; {@code -1} marks the image positions. */
  int[] prompt(String caption) {
    String before =
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n";
    String after =
        "\n"
            + template.replace("{caption}", caption.strip())
            + "<|im_end|>\n<|im_start|>assistant\n";
    int[] head = tokenizer.encodeIds(before);
    int[] tail = tokenizer.encodeIds(after);
    int visual = model.projector().tokensPerImage();
    int[] ids = new int[head.length + visual + tail.length];
    System.arraycopy(head, 0, ids, 0, head.length);
    Arrays.fill(ids, head.length, head.length + visual, -1);
    System.arraycopy(tail, 0, ids, head.length + visual, tail.length);
    return ids;
  }

  /** Scores one image-caption pair. */
  public Score score(BufferedImage image, String caption) {
    return score(List.of(image), List.of(caption)).get(0);
  }

  /**
   * Scores image {@code i} with caption {@code i}, all together: the images go through the tower as
   * one batch, the prompts through the decoder once as one batch (padded to the longest), and every
   * answer the readouts need — each first digit, and "1" "0" — as one tree of continuations over
   * the prompts' cached keys and values ({@link Qwen2Decoder#extend}). Only a greedy third digit
   * other than after "10" costs one more small call.
   */
  public List<Score> score(List<BufferedImage> pictures, List<String> captions) {
    int count = pictures.size();
    if (count == 0 || captions.size() != count) {
      throw new IllegalArgumentException(count + " images for " + captions.size() + " captions");
    }
    Tensor features = model.vision().features(backend, pictures);
    List<int[]> prompts = new ArrayList<>(count);
    int[] lengths = new int[count];
    for (int r = 0; r < count; r++) {
      prompts.add(prompt(captions.get(r)));
      lengths[r] = prompts.get(r).length;
    }
    Qwen2Decoder.Prefix prefix = vlm.prefill(batchOf(prompts), features, lengths);
    backend.release(features);
    float[][] afterPrompt = rowsOf(prefix.lastLogits(), count);
    backend.release(prefix.lastLogits());

    // The planned continuations of every prompt as one tree: a continuation's tokens follow the
    // longest planned prefix of it already in the tree ("1" "0" grows from "1").
    List<int[]> planned = readout.planned();
    Map<String, Integer> nodeOf = new HashMap<>(); // continuation -> its last token in a row
    List<Integer> tokenIds = new ArrayList<>();
    List<Integer> tokenParents = new ArrayList<>();
    for (int[] continuation : planned) {
      for (int i = 1; i <= continuation.length; i++) {
        String key = Arrays.toString(Arrays.copyOf(continuation, i));
        if (!nodeOf.containsKey(key)) {
          String parent = Arrays.toString(Arrays.copyOf(continuation, i - 1));
          nodeOf.put(key, tokenIds.size());
          tokenParents.add(i == 1 ? -1 : nodeOf.get(parent));
          tokenIds.add(continuation[i - 1]);
        }
      }
    }
    int perRow = tokenIds.size();
    int[] rows = new int[count * perRow];
    int[] next = new int[count * perRow];
    int[] parents = new int[count * perRow];
    for (int r = 0; r < count; r++) {
      for (int t = 0; t < perRow; t++) {
        int j = r * perRow + t;
        rows[j] = r;
        next[j] = tokenIds.get(t);
        parents[j] = tokenParents.get(t) < 0 ? -1 : r * perRow + tokenParents.get(t);
      }
    }
    Tensor treeLogits = vlm.decoder().extend(prefix, rows, next, parents);
    float[][] tree = rowsOf(treeLogits, count * perRow);
    backend.release(treeLogits);

    List<Score> scores = new ArrayList<>(count);
    for (int r = 0; r < count; r++) {
      int row = r;
      Map<String, float[]> known = new HashMap<>();
      known.put(Arrays.toString(new int[0]), afterPrompt[r]);
      for (Map.Entry<String, Integer> node : nodeOf.entrySet()) {
        known.put(node.getKey(), tree[r * perRow + node.getValue()]);
      }
      scores.add(
          readout.read(
              continuations -> {
                float[][] out = new float[continuations.size()][];
                for (int i = 0; i < out.length; i++) {
                  int[] continuation = continuations.get(i);
                  out[i] = known.get(Arrays.toString(continuation));
                  if (out[i] == null) {
                    out[i] = after(prefix, row, continuation);
                  }
                }
                return out;
              }));
    }
    return scores;
  }

  /**
   * The same score computed the plain way, as a generate loop does: every answer prefix run through
   * the whole model from scratch, one sample at a time. The baseline of {@code ScorerBenchmark} and
   * the check of {@link #score(List, List)}.
   */
  public Score scoreRecomputing(BufferedImage image, String caption) {
    Tensor features = model.vision().features(backend, List.of(image));
    int[] prompt = prompt(caption);
    Score score =
        readout.read(
            continuations -> {
              float[][] out = new float[continuations.size()][];
              for (int c = 0; c < out.length; c++) {
                int[] continuation = continuations.get(c);
                int[] sequence = Arrays.copyOf(prompt, prompt.length + continuation.length);
                System.arraycopy(continuation, 0, sequence, prompt.length, continuation.length);
                Qwen2Batch batch = batchOf(List.of(sequence));
                Tensor logits = vlm.lastLogits(batch, features);
                out[c] = rowsOf(logits, 1)[0];
                backend.release(logits);
              }
              return out;
            });
    backend.release(features);
    return score;
  }

  /**
   * Rows of token ids ({@code -1}: an image position), padded with id 0 to the longest, positions
   * from 0, the continuous mask.
   */
  private static Qwen2Batch batchOf(List<int[]> sequences) {
    int count = sequences.size();
    int tokens = 0;
    for (int[] sequence : sequences) {
      tokens = Math.max(tokens, sequence.length);
    }
    int[] ids = new int[count * tokens];
    boolean[] image = new boolean[count * tokens];
    int[] positions = new int[count * tokens];
    for (int r = 0; r < count; r++) {
      int[] sequence = sequences.get(r);
      for (int i = 0; i < tokens; i++) {
        int at = r * tokens + i;
        positions[at] = i;
        if (i < sequence.length) {
          image[at] = sequence[i] < 0;
          ids[at] = Math.max(0, sequence[i]);
        }
      }
    }
    return new Qwen2Batch(
        count,
        tokens,
        ids,
        positions,
        new int[count * tokens],
        AttentionMask.CONTINUOUS,
        null,
        null,
        image);
  }

  /** The logits after one prompt and a continuation not computed in the tree. */
  private float[] after(Qwen2Decoder.Prefix prefix, int row, int[] continuation) {
    int n = continuation.length;
    int[] rows = new int[n];
    int[] parents = new int[n];
    Arrays.fill(rows, row);
    for (int i = 0; i < n; i++) {
      parents[i] = i - 1;
    }
    Tensor logits = vlm.decoder().extend(prefix, rows, continuation, parents);
    float[][] out = rowsOf(logits, n);
    backend.release(logits);
    return out[n - 1];
  }

  /** The rows of a [rows, vocab] tensor on the host. */
  private float[][] rowsOf(Tensor logits, int rows) {
    float[] values = backend.toHost(logits);
    int vocab = values.length / rows;
    float[][] out = new float[rows][];
    for (int r = 0; r < rows; r++) {
      out[r] = Arrays.copyOfRange(values, r * vocab, (r + 1) * vocab);
    }
    return out;
  }
}
