package dev.tessera.curator.bench;

import dev.tessera.curator.curate.ClipScorer;
import dev.tessera.curator.filter.BasicFilters;
import dev.tessera.curator.filter.SampleFacts;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.clip.ClipImageProcessor;
import dev.tessera.model.clip.ClipModel;
import dev.tessera.model.clip.ClipTextTower;
import dev.tessera.model.clip.ClipVisionTower;
import dev.tessera.model.config.ClipConfig;
import dev.tessera.model.config.SiglipTextConfig;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.siglip.SiglipModel;
import dev.tessera.model.siglip.SiglipTextTower;
import dev.tessera.model.siglip.SiglipVisionTower;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * clipScore throughput on the CPU backend with a tiny random SigLIP and a tiny random CLIP (the
 * shape, not the quality, decides the speed: 224-pixel images in 16-pixel patches, hidden 128, 4
 * layers and 4 heads per tower; SigLIP reads 64 caption tokens, CLIP each batch's longest caption),
 * in batches of 16, against the basic-filter pass over the same samples in the same run. The given
 * tokenizer (the Qwen one in {@code scripts/bench-curation.sh}) stands in for both models'.
 *
 * <pre>
 * java -cp curator-image/target/tessera-curator.jar dev.tessera.curator.bench.ClipScorerBenchmark \
 *     TOKENIZER_JSON [samples=64] [padToken=&lt;|endoftext|&gt;]
 * </pre>
 */
public final class ClipScorerBenchmark {
  private static final int VOCAB = 151_936;
  private static final int BATCH = 16;

  private ClipScorerBenchmark() {}

  public static void main(String[] args) throws IOException {
    Path tokenizer = Path.of(args[0]);
    int samples = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    String padToken = args.length > 2 ? args[2] : "<|endoftext|>";
    Path dir = Files.createTempDirectory("tessera-clip-bench");
    CpuBackend cpu = CpuBackend.get();
    try {
      List<Sample> pool = BenchSamples.synthetic(dir.resolve("raw"), samples, 9);
      Path siglip = dir.resolve("siglip");
      writeSiglip(cpu, siglip);
      Path clip = dir.resolve("clip");
      writeClip(cpu, clip);
      BasicFilters filters = BasicFilters.defaults();
      long start = System.nanoTime();
      for (Sample sample : pool) {
        SampleFacts.of(sample, filters);
      }
      double basic = (System.nanoTime() - start) / 1e9;
      double siglipSeconds;
      try (ClipScorer scorer = new ClipScorer(cpu, siglip, tokenizer, 0, padToken)) {
        siglipSeconds = time(scorer, pool);
      }
      double clipSeconds;
      try (ClipScorer scorer = new ClipScorer(cpu, clip, tokenizer, 0, null)) {
        clipSeconds = time(scorer, pool);
      }
      System.out.printf(
          Locale.ROOT,
          "clipScore, random towers (224 px / 16, hidden 128, 4 layers and 4 heads each), batches"
              + " of %d, %d samples, %d threads:%n  basic filters:      %7.1f samples/s%n"
              + "  clipScore, SigLIP: %7.1f samples/s (decode, both towers, cosine), %.1fx the"
              + " basic filters' time%n"
              + "  clipScore, CLIP:   %7.1f samples/s (decode, both towers, cosine), %.1fx the"
              + " basic filters' time%n",
          BATCH,
          pool.size(),
          Runtime.getRuntime().availableProcessors(),
          pool.size() / basic,
          pool.size() / siglipSeconds,
          siglipSeconds / basic,
          pool.size() / clipSeconds,
          clipSeconds / basic);
    } finally {
      BenchSamples.deleteTree(dir);
    }
  }

  private static void writeSiglip(CpuBackend cpu, Path dir) throws IOException {
    SiglipVisionTower vision =
        new SiglipVisionTower(
            cpu,
            new SiglipVisionConfig(128, 512, 4, 4, 224, 16, 3, 1e-6, "gelu_pytorch_tanh", true));
    SiglipTextTower text =
        new SiglipTextTower(
            cpu, new SiglipTextConfig(VOCAB, 128, 512, 4, 4, 64, 1e-6, "gelu_pytorch_tanh", 128));
    vision.parameters().initialise(1, 0.05);
    text.parameters().initialise(2, 0.05);
    new SiglipModel(vision, text, 2.3, -10).write(dir);
  }

  private static void writeClip(CpuBackend cpu, Path dir) throws IOException {
    ClipConfig config =
        new ClipConfig(
            new ClipConfig.Vision(128, 512, 4, 4, 224, 16, 3, 1e-5, "quick_gelu"),
            new ClipConfig.Text(VOCAB, 128, 512, 4, 4, 77, 1e-5, "quick_gelu", 2),
            128);
    ClipVisionTower vision = new ClipVisionTower(cpu, config);
    ClipTextTower text = new ClipTextTower(cpu, config);
    vision.parameters().initialise(3, 0.05);
    text.parameters().initialise(4, 0.05);
    new ClipModel(config, vision, text, ClipImageProcessor.openai(224), 4.6).write(dir);
  }

  /** Seconds to decode and score the pool in batches, after one warm-up batch. */
  private static double time(ClipScorer scorer, List<Sample> pool) throws IOException {
    List<BufferedImage> warm = new ArrayList<>();
    List<String> warmCaptions = new ArrayList<>();
    for (int i = 0; i < BATCH; i++) {
      warm.add(ImageIO.read(new ByteArrayInputStream(pool.get(0).image().orElseThrow())));
      warmCaptions.add("warm up");
    }
    scorer.score(warm, warmCaptions);
    long start = System.nanoTime();
    for (int from = 0; from < pool.size(); from += BATCH) {
      List<BufferedImage> images = new ArrayList<>();
      List<String> captions = new ArrayList<>();
      for (Sample sample : pool.subList(from, Math.min(pool.size(), from + BATCH))) {
        images.add(ImageIO.read(new ByteArrayInputStream(sample.image().orElseThrow())));
        captions.add(sample.caption().orElse(""));
      }
      scorer.score(images, captions);
    }
    return (System.nanoTime() - start) / 1e9;
  }
}
