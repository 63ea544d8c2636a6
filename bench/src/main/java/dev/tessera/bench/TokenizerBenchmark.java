package dev.tessera.bench;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.model.text.CaptionLayout;
import dev.tessera.model.text.QwenTokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Caption tokenisation on one thread: Tessera's Java byte-level BPE against the Rust {@code
 * tokenizers} library (through DJL's JNI bindings, as a JVM program would call it), on the same
 * captions in the same process.
 *
 * <p>Captions are drawn to look like web alt-text at scale: 4–30 words (median ≈ 11, as CC3M and
 * DataComp captions), words drawn with a Zipf(1.1) law from the tokenizer's own 40,000+ space-
 * prefixed word tokens — a long tail of rare words, so a word cache cannot hide the BPE cost — plus
 * punctuation, numbers and capitals. The Java tokenizer is measured cold (a new tokenizer, empty
 * word cache, first pass) and warm.
 *
 * <pre>
 * java -cp bench/target/tessera-bench.jar dev.tessera.bench.TokenizerBenchmark TOKENIZER_JSON \
 *     [captions=100000] [rounds=5]
 * </pre>
 */
public final class TokenizerBenchmark {
  private TokenizerBenchmark() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 1) {
      System.err.println("usage: TokenizerBenchmark TOKENIZER_JSON [captions] [rounds]");
      System.exit(2);
    }
    Path file = Path.of(args[0]);
    int count = args.length > 1 ? Integer.parseInt(args[1]) : 100_000;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
    List<String> captions = captions(file, count, new SplittableRandom(1));
    double chars = captions.stream().mapToInt(String::length).average().orElse(0);

    long start = System.nanoTime();
    QwenTokenizer cold = QwenTokenizer.load(file);
    double loadSeconds = (System.nanoTime() - start) / 1e9;
    CaptionLayout layout = new CaptionLayout(cold);
    start = System.nanoTime();
    long tokens = 0;
    for (String caption : captions) {
      tokens += layout.caption(caption).ids().length;
    }
    double coldRate = count / ((System.nanoTime() - start) / 1e9);

    Map<String, String> options = new HashMap<>();
    options.put("addSpecialTokens", "false");
    options.put("truncation", "false");
    options.put("padding", "false");
    options.put("maxLength", String.valueOf(1 << 20));
    double bestJava = 0;
    double bestRust = 0;
    long sink = 0;
    try (HuggingFaceTokenizer rust = HuggingFaceTokenizer.newInstance(file, options)) {
      for (int round = 0; round <= rounds; round++) {
        start = System.nanoTime();
        for (String caption : captions) {
          sink += cold.encodeIds(caption).length;
        }
        double java = count / ((System.nanoTime() - start) / 1e9);
        start = System.nanoTime();
        for (String caption : captions) {
          sink += rust.encode(caption, false, false).getIds().length;
        }
        double native_ = count / ((System.nanoTime() - start) / 1e9);
        if (round > 0) {
          bestJava = Math.max(bestJava, java);
          bestRust = Math.max(bestRust, native_);
        }
      }
    }
    System.out.printf(
        Locale.ROOT,
        "%,d captions, %.1f characters and %.1f tokens each (caption layout included); tokenizer"
            + " loaded in %.2f s%n",
        count,
        chars,
        (double) tokens / count,
        loadSeconds);
    System.out.printf(
        Locale.ROOT, "java, cold word cache, caption layout: %,.0f captions/s%n", coldRate);
    System.out.printf(Locale.ROOT, "java, warm:  %,.0f captions/s%n", bestJava);
    System.out.printf(Locale.ROOT, "rust (DJL): %,.0f captions/s%n", bestRust);
    System.out.printf(
        Locale.ROOT,
        "java / rust: %.2f warm, %.2f cold (goal: >= 20,000 captions/s per core)%n",
        bestJava / bestRust,
        coldRate / bestRust);
    if (sink == 42) {
      System.out.println();
    }
  }

  /** Web-caption-like text over the tokenizer's own word tokens (see the class comment). */
  static List<String> captions(Path file, int count, SplittableRandom rng) throws IOException {
    JsonNode vocab = new ObjectMapper().readTree(file.toFile()).path("model").path("vocab");
    List<String> words = new ArrayList<>();
    for (Map.Entry<String, JsonNode> entry : vocab.properties()) {
      String token = entry.getKey();
      // 'Ġ' marks a leading space in byte-level BPE; keep plain ASCII words.
      if (token.length() > 2 && token.charAt(0) == 'Ġ' && token.substring(1).matches("[a-z]+")) {
        words.add(token.substring(1));
      }
    }
    words.sort(null);
    // A fixed shuffle, so Zipf ranks are not alphabetical.
    for (int i = words.size() - 1; i > 0; i--) {
      int j = new SplittableRandom(i).nextInt(i + 1);
      String swap = words.get(i);
      words.set(i, words.get(j));
      words.set(j, swap);
    }
    double[] cumulative = new double[words.size()];
    double total = 0;
    for (int r = 0; r < cumulative.length; r++) {
      total += 1 / Math.pow(r + 1, 1.1);
      cumulative[r] = total;
    }
    String[] punctuation = {"", "", "", "", ",", ".", "!", "'s", " -", ":"};
    List<String> captions = new ArrayList<>(count);
    for (int c = 0; c < count; c++) {
      int length = (int) Math.round(Math.exp(Math.log(11) + 0.5 * rng.nextGaussian()));
      length = Math.max(4, Math.min(30, length));
      StringBuilder caption = new StringBuilder();
      for (int w = 0; w < length; w++) {
        int index = java.util.Arrays.binarySearch(cumulative, rng.nextDouble() * total);
        String word = words.get(Math.min(words.size() - 1, index < 0 ? -index - 1 : index));
        if (w == 0 || rng.nextInt(12) == 0) {
          word = Character.toUpperCase(word.charAt(0)) + word.substring(1);
        }
        caption.append(w == 0 ? "" : " ").append(word);
        caption.append(punctuation[rng.nextInt(punctuation.length)]);
        if (rng.nextInt(40) == 0) {
          caption.append(' ').append(1 + rng.nextInt(2025));
        }
      }
      captions.add(caption.toString());
    }
    return captions;
  }
}
