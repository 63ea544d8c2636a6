package dev.tessera.trainer;

import dev.tessera.engine.Backend;
import dev.tessera.engine.ComputeBackend;
import dev.tessera.model.text.CaptionLayout;
import dev.tessera.model.text.ChatTemplate;
import dev.tessera.model.text.QwenTokenizer;
import dev.tessera.model.vlm.Generator;
import dev.tessera.model.vlm.VisionLanguageModel;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tessera-trainer generate}: what a trained model writes about an image (or after a text),
 * in the pre-training caption layout or, with {@code --chat}, the fine-tuning chat layout.
 */
@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    description = {
      "Continue a prompt with a trained model: a caption for --image in the pre-training layout"
          + " (<s>, the image, a newline, then --prompt as the caption's start), or with --chat"
          + " an answer to --prompt in the fine-tuning chat layout. The text goes to standard"
          + " output."
    })
final class GenerateCommand implements Callable<Integer> {
  @Option(
      names = "--model",
      required = true,
      paramLabel = "DIR",
      description =
          "A checkpoint (step-N directory of a run, or one that export wrote), or a run"
              + " directory: then its newest verified checkpoint.")
  Path model;

  @Option(
      names = "--tokenizer",
      required = true,
      paramLabel = "FILE",
      description = "The Qwen2 tokenizer.json the model was trained with.")
  Path tokenizer;

  @Option(names = "--image", paramLabel = "FILE", description = "An image (JPEG, PNG, BMP, GIF).")
  Path image;

  @Option(
      names = "--prompt",
      paramLabel = "TEXT",
      description =
          "The caption's start, or with --chat the question (default: empty, a whole caption).")
  String prompt = "";

  @Option(
      names = "--chat",
      description = "Lay the prompt out as a user turn of the fine-tuning chat template.")
  boolean chat;

  @Option(
      names = "--image-tokens",
      paramLabel = "N",
      description =
          "Visual tokens per image, a square (default: the checkpoint's own, 144 after"
              + " pre-training, 729 after fine-tuning as the reference does).")
  int imageTokens;

  @Option(
      names = "--image-quirk",
      paramLabel = "reference|fixed",
      description =
          "With --chat: drop the token after the image as the reference's tokenisation does"
              + " (reference, what fine-tune trains with by default) or keep it (fixed).")
  String imageQuirk = "reference";

  @Option(
      names = "--max-tokens",
      paramLabel = "N",
      description = "The most tokens to write (default: ${DEFAULT-VALUE}).")
  int maxTokens = 64;

  @Option(
      names = "--temperature",
      paramLabel = "T",
      description =
          "0 writes the most likely token each time; above 0, tokens are drawn with the logits"
              + " divided by T (default: ${DEFAULT-VALUE}).")
  double temperature;

  @Option(
      names = "--seed",
      paramLabel = "S",
      description = "The sampler's seed (default: ${DEFAULT-VALUE}).")
  long seed = 1;

  @Option(
      names = "--backend",
      paramLabel = "cpu|cuda",
      converter = TrainingOptions.BackendConverter.class,
      description = "Where to compute (default: cpu).")
  ComputeBackend backend = ComputeBackend.CPU;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    if (image == null && prompt.isBlank()) {
      throw new IllegalArgumentException("give --image, --prompt or both");
    }
    // Checked before anything is loaded.
    Generator.Settings settings = new Generator.Settings(maxTokens, temperature, seed);
    int pooledSide = 0;
    if (imageTokens != 0) {
      pooledSide = (int) Math.round(Math.sqrt(imageTokens));
      if (imageTokens < 0 || pooledSide * pooledSide != imageTokens) {
        throw new IllegalArgumentException(
            "--image-tokens must be a square (144, 729, ...), got " + imageTokens);
      }
    }
    PrintWriter err = spec.commandLine().getErr();
    Path checkpoint = checkpoint(err);
    BufferedImage picture = image == null ? null : read(image);
    try (QwenTokenizer qwen = QwenTokenizer.load(tokenizer);
        Backend device = backend.open(0)) {
      VisionLanguageModel loaded = VisionLanguageModel.load(device, checkpoint, pooledSide);
      int[] ids = prompt(qwen, picture != null);
      int pad = qwen.specialId(QwenTokenizer.END_OF_TEXT);
      // The caption's separator and the chat turn's end, and the padding after a document; no
      // id past the tokenizer's (the embedding's spare rows).
      settings =
          settings.forTokenizer(
              Set.of(qwen.specialId(QwenTokenizer.IM_END), pad), qwen.vocabularySize());
      long start = System.nanoTime();
      int[] generated = Generator.generate(device, loaded, ids, picture, pad, settings);
      double seconds = (System.nanoTime() - start) / 1e9;
      long[] text = new long[generated.length];
      for (int i = 0; i < generated.length; i++) {
        text[i] = generated[i];
      }
      spec.commandLine().getOut().println(qwen.decode(text).strip());
      err.printf(
          Locale.ROOT,
          "generate: %d tokens after a prompt of %d (%s) in %.2f s, %s%n",
          generated.length,
          ids.length,
          picture == null ? "no image" : loaded.projector().tokensPerImage() + " image tokens",
          seconds,
          checkpoint);
    }
    return 0;
  }

  /** The model directory: --model itself, or a run's newest verified checkpoint. */
  private Path checkpoint(PrintWriter err) throws IOException {
    return ModelDirectory.checkpoints(model, false, err).get(0);
  }

  private static BufferedImage read(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("--image " + file + " is not a file");
    }
    BufferedImage picture = ImageIO.read(file.toFile());
    if (picture == null) {
      throw new IllegalArgumentException("--image " + file + " is not an image this can decode");
    }
    return picture;
  }

  private int[] prompt(QwenTokenizer qwen, boolean withImage) {
    if (!chat) {
      if (withImage) {
        return new CaptionLayout(qwen).prompt(prompt);
      }
      int[] text = qwen.encodeIds(prompt);
      int[] ids = new int[text.length + 1];
      ids[0] = qwen.specialId(QwenTokenizer.BOS);
      System.arraycopy(text, 0, ids, 1, text.length);
      return ids;
    }
    ChatTemplate.ImageQuirk quirk = ChatTemplate.ImageQuirk.parse(imageQuirk);
    String user = (withImage ? "<image>\n" : "") + prompt;
    return new ChatTemplate(qwen, quirk)
        .conversation(List.of(new ChatTemplate.Turn(ChatTemplate.Role.USER, user)))
        .ids();
  }
}
