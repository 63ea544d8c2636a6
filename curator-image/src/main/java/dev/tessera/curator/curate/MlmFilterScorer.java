package dev.tessera.curator.curate;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.siglip.SiglipImageProcessor;
import dev.tessera.model.text.QwenTokenizer;
import dev.tessera.model.vlm.OpenQwen2VL;
import dev.tessera.model.vlm.VisionLanguageModel;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

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
  private final VisionLanguageModel model;
  private final OpenQwen2VL vlm;
  private final SiglipImageProcessor images;
  private final Backend backend;

  /**
   * @param modelDir a model directory as the trainer writes it (config.json, model.safetensors)
   * @param pooledSide image tokens per side (0: the checkpoint's)
   * @param template the metric's prompt template, with {@code {caption}} where the caption goes
   */
  public MlmFilterScorer(
      Backend backend,
      Path modelDir,
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
    this.model = VisionLanguageModel.load(backend, modelDir, pooledSide);
    this.vlm = model.vlm(backend);
    this.images = SiglipImageProcessor.forTower(model.tower().config());
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
    Tensor pixels = images.batch(backend, List.of(image));
    Tensor features = model.tower().features(pixels);
    int[] prompt = prompt(caption);
    return readout.read(prompt, prefixes -> logits(prefixes, features));
  }

  /** Next-token logits after each prefix, the image's features in its image positions. */
  private float[][] logits(List<int[]> prefixes, Tensor features) {
    int rows = prefixes.size();
    int t = prefixes.get(0).length;
    int[] ids = new int[rows * t];
    boolean[] image = new boolean[rows * t];
    int[] positions = new int[rows * t];
    for (int r = 0; r < rows; r++) {
      int[] prefix = prefixes.get(r);
      if (prefix.length != t) {
        throw new IllegalArgumentException("prefixes of one call must have one length");
      }
      for (int i = 0; i < t; i++) {
        image[r * t + i] = prefix[i] < 0;
        ids[r * t + i] = Math.max(0, prefix[i]);
        positions[r * t + i] = i;
      }
    }
    // One copy of the image's features per row.
    Tensor all = backend.empty(rows, features.dim(1), features.dim(2));
    for (int r = 0; r < rows; r++) {
      backend.copy(features.get(0), all.get(r));
    }
    Qwen2Batch batch =
        new Qwen2Batch(
            rows,
            t,
            ids,
            positions,
            new int[rows * t],
            AttentionMask.CONTINUOUS,
            null,
            null,
            image);
    Tensor logits = vlm.lastLogits(batch, all);
    float[] values = backend.toHost(logits);
    backend.release(all, logits);
    int vocab = values.length / rows;
    float[][] out = new float[rows][];
    for (int r = 0; r < rows; r++) {
      out[r] = Arrays.copyOfRange(values, r * vocab, (r + 1) * vocab);
    }
    return out;
  }
}
