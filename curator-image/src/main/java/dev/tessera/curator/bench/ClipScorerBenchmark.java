package dev.tessera.curator.bench;

import dev.tessera.curator.curate.ClipScorer;
import dev.tessera.curator.filter.BasicFilters;
import dev.tessera.curator.filter.SampleFacts;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.engine.cpu.CpuBackend;
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
 * clipScore throughput on the CPU backend with a tiny random SigLIP (the shape, not the quality,
 * decides the speed: 224-pixel images in 16-pixel patches, hidden 128, 4 layers and 4 heads per
 * tower, 64 caption tokens), in batches of 16, against the basic-filter pass over the same samples
 * in the same run.
 *
 * <pre>
 * java -cp curator-image/target/tessera-curator.jar dev.tessera.curator.bench.ClipScorerBenchmark \
 *     TOKENIZER_JSON [samples=64] [padToken=&lt;|endoftext|&gt;]
 * </pre>
 */
public final class ClipScorerBenchmark {
  private ClipScorerBenchmark() {}

  public static void main(String[] args) throws IOException {
    Path tokenizer = Path.of(args[0]);
    int samples = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    String padToken = args.length > 2 ? args[2] : "<|endoftext|>";
    int batch = 16;
    Path dir = Files.createTempDirectory("tessera-clip-bench");
    CpuBackend cpu = CpuBackend.get();
    try {
      SiglipVisionTower vision =
          new SiglipVisionTower(
              cpu,
              new SiglipVisionConfig(128, 512, 4, 4, 224, 16, 3, 1e-6, "gelu_pytorch_tanh", true));
      SiglipTextTower text =
          new SiglipTextTower(
              cpu,
              new SiglipTextConfig(151_936, 128, 512, 4, 4, 64, 1e-6, "gelu_pytorch_tanh", 128));
      vision.parameters().initialise(1, 0.05);
      text.parameters().initialise(2, 0.05);
      Path model = dir.resolve("siglip");
      new SiglipModel(vision, text, 2.3, -10).write(model);
      List<Sample> pool = BenchSamples.synthetic(dir.resolve("raw"), samples, 9);
      try (ClipScorer scorer = new ClipScorer(cpu, model, tokenizer, 0, padToken)) {
        BasicFilters filters = BasicFilters.defaults();
        List<BufferedImage> warm = new ArrayList<>();
        List<String> warmCaptions = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
          warm.add(ImageIO.read(new ByteArrayInputStream(pool.get(0).image().orElseThrow())));
          warmCaptions.add("warm up");
        }
        scorer.score(warm, warmCaptions);
        long start = System.nanoTime();
        for (Sample sample : pool) {
          SampleFacts.of(sample, filters);
        }
        double basic = (System.nanoTime() - start) / 1e9;
        start = System.nanoTime();
        for (int from = 0; from < pool.size(); from += batch) {
          List<BufferedImage> images = new ArrayList<>();
          List<String> captions = new ArrayList<>();
          for (Sample sample : pool.subList(from, Math.min(pool.size(), from + batch))) {
            images.add(ImageIO.read(new ByteArrayInputStream(sample.image().orElseThrow())));
            captions.add(sample.caption().orElse(""));
          }
          scorer.score(images, captions);
        }
        double scored = (System.nanoTime() - start) / 1e9;
        System.out.printf(
            Locale.ROOT,
            "clipScore, random SigLIP (224 px / 16, hidden 128, 4 layers and 4 heads per tower, 64"
                + " tokens), batches of %d, %d threads:%n  basic filters: %7.1f samples/s%n"
                + "  clipScore:     %7.1f samples/s (decode, both towers, cosine), %.1fx the"
                + " basic filters' time%n",
            batch,
            Runtime.getRuntime().availableProcessors(),
            pool.size() / basic,
            pool.size() / scored,
            scored / basic);
      }
    } finally {
      BenchSamples.deleteTree(dir);
    }
  }
}
