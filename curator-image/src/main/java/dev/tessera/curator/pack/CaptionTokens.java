package dev.tessera.curator.pack;

import dev.tessera.data.packed.PackedLayout;
import dev.tessera.model.text.CaptionLayout;
import dev.tessera.model.text.QwenTokenizer;
import java.util.Arrays;

/**
 * A caption's token ids in Open-Qwen2VL's layout ({@code <s> IMAGE \n caption <|im_end|>}), fitted
 * to the sequence length by the overlong rule.
 */
final class CaptionTokens {
  /** The ids of one sample, or why it has none. */
  record Result(int[] ids, boolean truncated, String dropReason) {
    static Result drop(String reason) {
      return new Result(null, false, reason);
    }
  }

  private final CaptionLayout layout;
  private final int eos;
  private final int sequenceLength;
  private final int imageTokens;
  private final PackOptions.Overlong overlong;

  CaptionTokens(QwenTokenizer tokenizer, PackOptions options) {
    this.layout = new CaptionLayout(tokenizer);
    this.eos = tokenizer.specialId(QwenTokenizer.IM_END);
    this.sequenceLength = options.sequenceLength();
    this.imageTokens = options.imageTokens();
    this.overlong = options.overlong();
    if (CaptionLayout.IMAGE != PackedLayout.IMAGE_TOKEN_ID) {
      throw new IllegalStateException("image sentinels disagree");
    }
  }

  Result of(String caption) {
    if (caption.isBlank()) {
      return Result.drop("empty_caption");
    }
    int[] ids = layout.caption(caption).ids();
    int length = ids.length - 1 + imageTokens;
    if (length <= sequenceLength) {
      return new Result(ids, false, null);
    }
    if (overlong == PackOptions.Overlong.DROP) {
      return Result.drop("too_long");
    }
    // Keep <s>, the image, the newline and as much caption as fits; end on <|im_end|> again so the
    // sample still closes the way every other sample does.
    int[] cut = Arrays.copyOf(ids, sequenceLength - imageTokens + 1);
    cut[cut.length - 1] = eos;
    return new Result(cut, true, null);
  }
}
