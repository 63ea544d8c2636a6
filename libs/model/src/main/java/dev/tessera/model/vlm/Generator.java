package dev.tessera.model.vlm;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.qwen2.Qwen2Decoder;
import dev.tessera.model.siglip.SiglipImageProcessor;
import dev.tessera.model.text.CaptionLayout;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Continues a prompt, with or without an image, one token at a time. The prompt (the image's visual
 * tokens included) runs once and its keys and values are kept ({@link Qwen2Decoder#prefill}); each
 * step then runs only the tokens generated so far against them ({@link Qwen2Decoder#extend}),
 * instead of the whole sequence again.
 */
public final class Generator {
  /**
   * How to choose tokens.
   *
   * @param maxTokens the most tokens to generate
   * @param temperature 0 for greedy decoding (the most likely token), else sampling from the
   *     distribution with the logits divided by it
   * @param seed the sampler's seed
   * @param stops ids that end the text (not part of it)
   * @param vocabulary ids from here on are never chosen: the embedding's rows past the tokenizer's
   *     vocabulary (Qwen2.5 has 151,936 rows for 151,665 tokens), which no text can hold; 0 for
   *     none
   */
  public record Settings(
      int maxTokens, double temperature, long seed, Set<Integer> stops, int vocabulary) {
    public Settings {
      if (maxTokens < 1) {
        throw new IllegalArgumentException("--max-tokens must be >= 1, got " + maxTokens);
      }
      if (!(temperature >= 0) || Double.isInfinite(temperature)) {
        throw new IllegalArgumentException("--temperature must be >= 0, got " + temperature);
      }
      stops = Set.copyOf(stops);
      if (vocabulary < 0) {
        throw new IllegalArgumentException("vocabulary must be >= 0, got " + vocabulary);
      }
    }

    /** Greedy or sampled decoding over every id, stopping at none. */
    public Settings(int maxTokens, double temperature, long seed) {
      this(maxTokens, temperature, seed, Set.of(), 0);
    }

    /**
     * These settings for a tokenizer: the text ends at {@code stops}, ids stay below {@code
     * vocabulary}.
     */
    public Settings forTokenizer(Set<Integer> stops, int vocabulary) {
      return new Settings(maxTokens, temperature, seed, stops, vocabulary);
    }
  }

  private Generator() {}

  /**
   * The ids that follow {@code prompt}.
   *
   * @param prompt token ids with one {@link CaptionLayout#IMAGE} sentinel where the image goes when
   *     there is one, none otherwise
   * @param image the image, or null
   * @param padId the id held at visual positions (never looked up)
   */
  public static int[] generate(
      Backend backend,
      VisionLanguageModel model,
      int[] prompt,
      BufferedImage image,
      int padId,
      Settings settings) {
    int sentinels = (int) Arrays.stream(prompt).filter(id -> id == CaptionLayout.IMAGE).count();
    if (sentinels != (image == null ? 0 : 1)) {
      throw new IllegalArgumentException(
          "the prompt has "
              + sentinels
              + " image places for "
              + (image == null ? "no image" : "one image"));
    }
    int vocabulary = model.decoder().config().vocabSize();
    for (int id : prompt) {
      if (id != CaptionLayout.IMAGE && (id < 0 || id >= vocabulary)) {
        throw new IllegalArgumentException(
            "prompt token " + id + " is outside the model's vocabulary of " + vocabulary);
      }
    }
    Qwen2Decoder.Prefix prefix = prefill(backend, model, prompt, image, padId);
    SplittableRandom random = new SplittableRandom(settings.seed());
    List<Integer> generated = new ArrayList<>();
    float[] logits = backend.toHost(prefix.lastLogits());
    backend.release(prefix.lastLogits());
    while (true) {
      int limit = settings.vocabulary() == 0 ? logits.length : settings.vocabulary();
      int next = choose(logits, limit, settings.temperature(), random);
      if (settings.stops().contains(next)) {
        break;
      }
      generated.add(next);
      if (generated.size() == settings.maxTokens()) {
        break;
      }
      prefix = model.decoder().append(prefix, next);
      logits = backend.toHost(prefix.lastLogits());
      backend.release(prefix.lastLogits());
    }
    return generated.stream().mapToInt(Integer::intValue).toArray();
  }

  private static Qwen2Decoder.Prefix prefill(
      Backend backend, VisionLanguageModel model, int[] prompt, BufferedImage image, int padId) {
    if (image == null) {
      Qwen2Batch batch = Qwen2Batch.text(1, prompt.length, prompt, new int[prompt.length]);
      return model.decoder().prefill(batch, new int[] {prompt.length});
    }
    int[] labels = new int[prompt.length];
    Arrays.fill(labels, CaptionLayout.IGNORE);
    Qwen2Batch batch =
        ConversationBatch.of(
                List.of(new CaptionLayout.Sample(prompt, labels)),
                model.projector().tokensPerImage(),
                padId,
                Integer.MAX_VALUE)
            .batch();
    Tensor pixels =
        SiglipImageProcessor.forTower(model.tower().config()).batch(backend, List.of(image));
    Tensor features = model.tower().features(pixels);
    Qwen2Decoder.Prefix prefix =
        model.vlm(backend).prefill(batch, features, new int[] {batch.tokens()});
    backend.release(pixels, features);
    return prefix;
  }

  /**
   * Among ids below {@code limit}, the most likely, or one drawn from the tempered distribution.
   */
  static int choose(float[] logits, int limit, double temperature, SplittableRandom random) {
    int best = 0;
    for (int v = 1; v < limit; v++) {
      if (logits[v] > logits[best]) {
        best = v;
      }
    }
    if (temperature == 0) {
      return best;
    }
    double[] weights = new double[limit];
    double total = 0;
    for (int v = 0; v < limit; v++) {
      weights[v] = Math.exp((logits[v] - logits[best]) / temperature);
      total += weights[v];
    }
    double draw = random.nextDouble() * total;
    for (int v = 0; v < limit; v++) {
      draw -= weights[v];
      if (draw < 0) {
        return v;
      }
    }
    return best;
  }
}
