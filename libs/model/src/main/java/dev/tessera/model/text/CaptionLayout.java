package dev.tessera.model.text;

/**
 * Open-Qwen2VL's token layout of one image-caption pair for pre-training:
 *
 * <pre>{@code <s> IMAGE \n caption <|im_end|>}</pre>
 *
 * IMAGE is the sentinel {@value #IMAGE}: the model replaces it with the projector's visual tokens
 * (144 in pre-training). Labels copy the ids with the IMAGE position set to {@value #IGNORE}, so
 * every text token — BOS, the newline, the caption and the EOS separator — is supervised, as in the
 * reference (its packed rows are trained that way, separators included).
 *
 * <p>Reference details kept on purpose: the text is {@code "<image>\n" + caption}, split on {@code
 * <image>}, and a literal {@code <image>} inside a caption becomes {@code <image-placeholder>}
 * first, so a caption cannot inject a second image. Special tokens written in a caption ({@code
 * <|im_end|>}) are recognised by the tokenizer, as in the reference.
 */
public final class CaptionLayout {
  /** The image sentinel in input ids (LLaVA's IMAGE_TOKEN_INDEX). */
  public static final int IMAGE = -200;

  /** Label of positions without loss. */
  public static final int IGNORE = -100;

  private final QwenTokenizer tokenizer;
  private final int bos;
  private final int eos;

  public CaptionLayout(QwenTokenizer tokenizer) {
    this.tokenizer = tokenizer;
    this.bos = tokenizer.specialId(QwenTokenizer.BOS);
    this.eos = tokenizer.specialId(QwenTokenizer.IM_END);
  }

  /**
   * One sample's ids and labels.
   *
   * @param ids token ids with one {@link #IMAGE} sentinel
   * @param labels targets: the ids, with {@link #IGNORE} at the sentinel
   */
  public record Sample(int[] ids, int[] labels) {
    /** Length once the sentinel is replaced by {@code imageTokens} visual tokens. */
    public int multimodalLength(int imageTokens) {
      return ids.length - 1 + imageTokens;
    }
  }

  /**
   * A caption's beginning for the model to continue, as generation starts it: the layout of {@link
   * #caption} up to {@code start} (empty for a whole caption), with no end separator.
   */
  public int[] prompt(String start) {
    int[] text = tokenizer.encodeIds("\n" + start.replace("<image>", "<image-placeholder>"));
    int[] ids = new int[2 + text.length];
    ids[0] = bos;
    ids[1] = IMAGE;
    System.arraycopy(text, 0, ids, 2, text.length);
    return ids;
  }

  public Sample caption(String caption) {
    int[] text = tokenizer.encodeIds("\n" + caption.replace("<image>", "<image-placeholder>"));
    boolean endsWithEos = text.length > 0 && text[text.length - 1] == eos;
    int[] ids = new int[2 + text.length + (endsWithEos ? 0 : 1)];
    ids[0] = bos;
    ids[1] = IMAGE;
    System.arraycopy(text, 0, ids, 2, text.length);
    if (!endsWithEos) {
      ids[ids.length - 1] = eos;
    }
    int[] labels = ids.clone();
    labels[1] = IGNORE;
    return new Sample(ids, labels);
  }
}
