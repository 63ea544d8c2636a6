package dev.tessera.cli;

import dev.tessera.curator.CuratorMain;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.WebDatasetReader;
import dev.tessera.engine.Backend;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.text.CaptionLayout;
import dev.tessera.model.text.QwenTokenizer;
import dev.tessera.model.vlm.Generator;
import dev.tessera.model.vlm.VisionLanguageModel;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/**
 * Captions the trained model writes for synthetic images it never saw (generated with another
 * seed), greedily, in the pre-training layout ({@code <s>}, the image, a newline, then the caption
 * until {@code <|im_end|>}), next to the images and their true captions.
 */
final class Captions {
  static final int IMAGES = 4;
  static final int MAX_TOKENS = 24;
  static final long HELD_OUT_SEED = 990_001;

  private Captions() {}

  static void section(StringBuilder html, Path volume, Path run, Path tokenizerFile) {
    html.append("<h3>Captions for held-out synthetic images</h3>");
    try {
      Path checkpoint = latestCheckpoint(run);
      if (checkpoint == null || tokenizerFile == null || !Files.exists(tokenizerFile)) {
        html.append("<p>(no checkpoint or tokenizer to caption with)</p>");
        return;
      }
      List<Sample> samples = heldOut(volume);
      Backend backend = CpuBackend.get();
      VisionLanguageModel model = VisionLanguageModel.load(backend, checkpoint, 0);
      QwenTokenizer tokenizer = QwenTokenizer.load(tokenizerFile);
      html.append("<p>Model <code>")
          .append(HtmlReport.esc(checkpoint.toString()))
          .append("</code>, greedy, at most ")
          .append(MAX_TOKENS)
          .append(" tokens.</p>");
      for (Sample sample : samples) {
        byte[] jpeg = sample.image().orElseThrow();
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(jpeg));
        String truth =
            sample.bytes("txt").map(b -> new String(b, StandardCharsets.UTF_8)).orElse("");
        String generated = caption(backend, model, tokenizer, image);
        html.append("<figure><img alt=\"held-out image\" src=\"data:image/jpeg;base64,")
            .append(Base64.getEncoder().encodeToString(jpeg))
            .append("\"><figcaption><b>model:</b> ")
            .append(HtmlReport.esc(generated.isBlank() ? "(nothing)" : generated))
            .append("<br><b>true:</b> ")
            .append(HtmlReport.esc(truth))
            .append("</figcaption></figure>");
      }
    } catch (IOException | RuntimeException e) {
      html.append("<p>(captions could not be made: ")
          .append(HtmlReport.esc(String.valueOf(e.getMessage())))
          .append(")</p>");
    }
  }

  /** The greedy caption, as {@code tessera-trainer generate --image} writes it. */
  static String caption(
      Backend backend, VisionLanguageModel model, QwenTokenizer tokenizer, BufferedImage image) {
    int pad = tokenizer.specialId(QwenTokenizer.END_OF_TEXT);
    Generator.Settings settings =
        new Generator.Settings(MAX_TOKENS, 0, 1)
            .forTokenizer(
                Set.of(tokenizer.specialId(QwenTokenizer.IM_END), pad), tokenizer.vocabularySize());
    int[] ids =
        Generator.generate(
            backend, model, new CaptionLayout(tokenizer).prompt(""), image, pad, settings);
    return tokenizer.decode(Arrays.stream(ids).asLongStream().toArray()).strip();
  }

  private static Path latestCheckpoint(Path run) throws IOException {
    Path dir = run.resolve("checkpoints");
    if (!Files.isDirectory(dir)) {
      return null;
    }
    try (Stream<Path> steps = Files.list(dir)) {
      return steps
          .filter(
              p ->
                  p.getFileName().toString().startsWith("step-")
                      && Files.exists(p.resolve("manifest.json")))
          .max(Path::compareTo)
          .orElse(null);
    }
  }

  /** A few synthetic samples from a seed the training data did not use; made once per volume. */
  private static List<Sample> heldOut(Path volume) throws IOException {
    Path dir = volume.resolve(".tessera").resolve("held-out");
    if (!Files.exists(dir.resolve("00000.tar"))) {
      StringWriter log = new StringWriter();
      var synth = CuratorMain.commandLine();
      synth.setOut(new PrintWriter(log));
      synth.setErr(new PrintWriter(log));
      int code =
          synth.execute(
              "synth",
              "--out",
              dir.toString(),
              "--shards",
              "1",
              "--samples-per-shard",
              String.valueOf(IMAGES),
              "--seed",
              String.valueOf(HELD_OUT_SEED));
      if (code != 0) {
        throw new IOException("synthetic held-out images: " + log);
      }
    }
    try (WebDatasetReader reader = WebDatasetReader.open(List.of(dir.resolve("00000.tar")))) {
      return reader.stream().filter(s -> s.image().isPresent()).limit(IMAGES).toList();
    }
  }
}
