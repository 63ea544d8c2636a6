package dev.tessera.model.text;

import java.util.ArrayList;
import java.util.List;

/**
 * Open-Qwen2VL's chat layout for supervised fine-tuning, reproduced exactly so models fine-tuned
 * here behave like the released checkpoints under the reference's evaluation code:
 *
 * <pre>{@code
 * <s><|im_start|>system\nYou are a helpful assistant.<|im_end|>\n
 * <|im_start|>user\n{user}<|im_end|>assistant\n      (no "\n<|im_start|>" before "assistant")
 * {assistant}<|im_end|>\n
 * }</pre>
 *
 * Messages are stripped; an empty assistant message becomes one space. Loss falls on assistant
 * turns only, including their {@code <|im_end|>\n}. An {@code <image>} in a user message becomes
 * the {@link CaptionLayout#IMAGE} sentinel.
 *
 * <p>The reference's image tokenisation drops the first token of the text after each image when the
 * prompt starts with BOS (normally the {@code \n} after {@code <image>}). {@link
 * ImageQuirk#REFERENCE} reproduces that; {@link ImageQuirk#FIXED} keeps the token.
 */
public final class ChatTemplate {
  public static final String SYSTEM_PROMPT = "You are a helpful assistant.";

  /** How the token after an image is treated (see the class comment). */
  public enum ImageQuirk {
    REFERENCE,
    FIXED;

    /** {@code reference} or {@code fixed}, any case, as {@code --image-quirk} takes it. */
    public static ImageQuirk parse(String name) {
      for (ImageQuirk quirk : values()) {
        if (quirk.name().equalsIgnoreCase(name)) {
          return quirk;
        }
      }
      throw new IllegalArgumentException(
          "--image-quirk must be reference or fixed, got '" + name + "'");
    }
  }

  /** One conversation turn. */
  public record Turn(Role role, String text) {}

  /** Who speaks. */
  public enum Role {
    USER,
    ASSISTANT
  }

  private final QwenTokenizer tokenizer;
  private final ImageQuirk quirk;
  private final int bos;

  public ChatTemplate(QwenTokenizer tokenizer, ImageQuirk quirk) {
    this.tokenizer = tokenizer;
    this.quirk = quirk;
    this.bos = tokenizer.specialId(QwenTokenizer.BOS);
  }

  /** The text of a conversation as the template lays it out (without the BOS). */
  public static List<String> segments(List<Turn> turns) {
    List<String> segments = new ArrayList<>();
    StringBuilder first =
        new StringBuilder("<|im_start|>system\n" + SYSTEM_PROMPT + "<|im_end|>\n");
    boolean pendingSystem = true;
    for (Turn turn : turns) {
      String text = turn.text().strip();
      String segment =
          turn.role() == Role.USER
              ? "<|im_start|>user\n" + text + "<|im_end|>assistant\n"
              : (text.isEmpty() ? " " : text) + "<|im_end|>\n";
      if (pendingSystem) {
        first.append(segment);
        segments.add(first.toString());
        pendingSystem = false;
      } else {
        segments.add(segment);
      }
    }
    return segments;
  }

  /** Ids and labels of a conversation; it must alternate user, assistant, starting with user. */
  public CaptionLayout.Sample conversation(List<Turn> turns) {
    for (int i = 0; i < turns.size(); i++) {
      Role expected = i % 2 == 0 ? Role.USER : Role.ASSISTANT;
      if (turns.get(i).role() != expected) {
        throw new IllegalArgumentException(
            "turn " + i + " is " + turns.get(i).role() + ", expected " + expected);
      }
    }
    List<String> segments = segments(turns);
    List<Integer> ids = new ArrayList<>();
    List<Integer> labels = new ArrayList<>();
    ids.add(bos);
    labels.add(CaptionLayout.IGNORE);
    for (int s = 0; s < segments.size(); s++) {
      boolean supervised = turns.get(s).role() == Role.ASSISTANT;
      for (int id : withImages(segments.get(s))) {
        ids.add(id);
        labels.add(supervised && id != CaptionLayout.IMAGE ? id : CaptionLayout.IGNORE);
      }
    }
    return new CaptionLayout.Sample(
        ids.stream().mapToInt(Integer::intValue).toArray(),
        labels.stream().mapToInt(Integer::intValue).toArray());
  }

  /** Tokens of a segment with each {@code <image>} replaced by the sentinel. */
  private List<Integer> withImages(String segment) {
    String[] chunks = segment.split("<image>", -1);
    List<Integer> out = new ArrayList<>();
    for (int c = 0; c < chunks.length; c++) {
      if (c > 0) {
        out.add(CaptionLayout.IMAGE);
      }
      long[] tokens = tokenizer.encode(chunks[c]);
      int skip = c > 0 && quirk == ImageQuirk.REFERENCE && tokens.length > 0 ? 1 : 0;
      for (int i = skip; i < tokens.length; i++) {
        out.add(Math.toIntExact(tokens[i]));
      }
    }
    return out;
  }
}
