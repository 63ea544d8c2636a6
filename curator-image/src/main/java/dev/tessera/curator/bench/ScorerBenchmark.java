package dev.tessera.curator.bench;

import dev.tessera.curator.curate.MlmFilterScorer;
import dev.tessera.curator.filter.BasicFilters;
import dev.tessera.curator.filter.SampleFacts;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.qwen2.Qwen2Decoder;
import dev.tessera.model.siglip.SiglipVisionTower;
import dev.tessera.model.text.QwenTokenizer;
import dev.tessera.model.vlm.AvgPoolProjector;
import dev.tessera.model.vlm.VisionLanguageModel;
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
 * MLM-Filter scoring throughput on the CPU backend with a small random vision-language model (the
 * shape, not the quality, decides the speed): the scorer in batches (prompts once, answers over
 * their cached keys and values) against the plain way (every answer prefix through the whole model,
 * one sample at a time, as a generate loop does) and the basic-filter pass, over the same samples
 * in the same run.
 *
 * <pre>
 * java -cp curator-image/target/tessera-curator.jar dev.tessera.curator.bench.ScorerBenchmark \
 *     TOKENIZER_JSON [samples=40] [hidden=64] [layers=2] [batch=8]
 * </pre>
 */
public final class ScorerBenchmark {
  private ScorerBenchmark() {}

  public static void main(String[] args) throws IOException {
    Path tokenizer = Path.of(args[0]);
    int samples = args.length > 1 ? Integer.parseInt(args[1]) : 40;
    int hidden = args.length > 2 ? Integer.parseInt(args[2]) : 64;
    int layers = args.length > 3 ? Integer.parseInt(args[3]) : 2;
    int batch = args.length > 4 ? Integer.parseInt(args[4]) : 8;
    Path dir = Files.createTempDirectory("tessera-scorer-bench");
    CpuBackend cpu = CpuBackend.get();
    Qwen2Config llm =
        new Qwen2Config(
            hidden, 2 * hidden, layers, 4, 2, 151_936, 1e-6, 1e6, true, 2048, "float32");
    SiglipVisionConfig vision =
        new SiglipVisionConfig(
            hidden, 2 * hidden, layers, 4, 224, 14, 3, 1e-6, "gelu_pytorch_tanh", false);
    SiglipVisionTower tower = new SiglipVisionTower(cpu, vision);
    AvgPoolProjector projector = new AvgPoolProjector(cpu, hidden, hidden, 16, 12);
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, llm, false);
    tower.parameters().initialise(1, 0.05);
    projector.parameters().initialise(2, 0.05);
    decoder.parameters().initialise(3, 0.05);
    Path model = dir.resolve("model");
    new VisionLanguageModel(tower, projector, decoder).write(model);
    List<Sample> pool = BenchSamples.synthetic(dir.resolve("raw"), samples, 9);
    try (QwenTokenizer qwen = QwenTokenizer.load(tokenizer)) {
      MlmFilterScorer scorer =
          new MlmFilterScorer(
              cpu, model, null, qwen, "Text Caption: {caption}\nScore 0-100:", 0, 3);
      BasicFilters filters = BasicFilters.defaults();
      scorer.score(decode(pool.get(0)), "warm");
      scorer.scoreRecomputing(decode(pool.get(0)), "warm");
      long start = System.nanoTime();
      for (Sample sample : pool) {
        SampleFacts.of(sample, filters);
      }
      double basic = (System.nanoTime() - start) / 1e9;
      start = System.nanoTime();
      for (Sample sample : pool) {
        scorer.scoreRecomputing(decode(sample), sample.caption().orElse(""));
      }
      double plain = (System.nanoTime() - start) / 1e9;
      start = System.nanoTime();
      for (int from = 0; from < pool.size(); from += batch) {
        List<BufferedImage> images = new ArrayList<>();
        List<String> captions = new ArrayList<>();
        for (Sample sample : pool.subList(from, Math.min(pool.size(), from + batch))) {
          images.add(decode(sample));
          captions.add(sample.caption().orElse(""));
        }
        scorer.score(images, captions);
      }
      double batched = (System.nanoTime() - start) / 1e9;
      System.out.printf(
          Locale.ROOT,
          "MLM-Filter scorer, random VLM (hidden %d, %d layers each, 144 image tokens, vocab"
              + " 151936), %d samples, %d threads:%n  basic filters:            %7.1f samples/s%n"
              + "  every prefix run whole:   %7.1f samples/s (up to 5 forward calls, 14 rows,"
              + " each)%n  batches of %-3d, cached:   %7.1f samples/s (%.1fx the plain way; %.0fx"
              + " the basic filters' time)%n",
          hidden,
          layers,
          pool.size(),
          Runtime.getRuntime().availableProcessors(),
          pool.size() / basic,
          pool.size() / plain,
          batch,
          pool.size() / batched,
          plain / batched,
          batched / basic);
    } finally {
      BenchSamples.deleteTree(dir);
    }
  }

  private static BufferedImage decode(Sample sample) throws IOException {
    return ImageIO.read(new ByteArrayInputStream(sample.image().orElseThrow()));
  }
}
