package dev.tessera.cli;

import dev.tessera.curator.CuratorMain;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.WebDatasetReader;
import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.model.qwen2.Qwen2Batch;
import dev.tessera.model.siglip.SiglipImageProcessor;
import dev.tessera.model.text.QwenTokenizer;
import dev.tessera.model.vlm.OpenQwen2VL;
import dev.tessera.model.vlm.VisionLanguageModel;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
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

  /** Greedy decoding without a cache: the tiny models this runs on make that cheap. */
  static String caption(
      Backend backend, VisionLanguageModel model, QwenTokenizer tokenizer, BufferedImage image) {
    OpenQwen2VL vlm = model.vlm(backend);
    SiglipImageProcessor processor = SiglipImageProcessor.forTower(model.tower().config());
    Tensor pixels = processor.batch(backend, List.of(image));
    Tensor features = model.tower().features(pixels);
    int visual = model.projector().tokensPerImage();
    int bos = tokenizer.specialId(QwenTokenizer.BOS);
    int eos = tokenizer.specialId(QwenTokenizer.IM_END);
    List<Integer> ids = new ArrayList<>();
    ids.add(bos);
    for (int i = 0; i < visual; i++) {
      ids.add(-1);
    }
    for (int id : tokenizer.encodeIds("\n")) {
      ids.add(id);
    }
    List<Long> out = new ArrayList<>();
    for (int step = 0; step < MAX_TOKENS; step++) {
      int t = ids.size();
      int[] tokens = new int[t];
      int[] positions = new int[t];
      boolean[] visualAt = new boolean[t];
      for (int i = 0; i < t; i++) {
        visualAt[i] = ids.get(i) < 0;
        tokens[i] = Math.max(0, ids.get(i));
        positions[i] = i;
      }
      Qwen2Batch batch =
          new Qwen2Batch(
              1, t, tokens, positions, new int[t], AttentionMask.CONTINUOUS, null, null, visualAt);
      Tensor logits = vlm.lastLogits(batch, features);
      float[] values = backend.toHost(logits);
      backend.release(logits);
      int best = 0;
      for (int v = 1; v < values.length; v++) {
        if (values[v] > values[best]) {
          best = v;
        }
      }
      if (best == eos) {
        break;
      }
      ids.add(best);
      out.add((long) best);
    }
    return tokenizer.decode(out.stream().mapToLong(Long::longValue).toArray()).strip();
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
