package dev.tessera.curator.bench;

import dev.tessera.curator.filter.BasicFilters;
import dev.tessera.curator.filter.PerceptualHash;
import dev.tessera.curator.filter.SampleFacts;
import dev.tessera.curator.image.BoundedDecoder;
import dev.tessera.data.io.Sha256;
import dev.tessera.data.webdataset.Sample;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * What the score phase costs per image on one core, against plain decoding of the same image bytes
 * in the same run: decode (with the pixel bound read from the header first), the basic filters, the
 * contrast grid, SHA-256 of the bytes and the perceptual hash ({@link SampleFacts}), versus {@code
 * ImageIO.read} alone. Alternating rounds, medians. The curation issue's goal: the filters cost
 * under 25% on top of decoding.
 *
 * <pre>
 * java -cp curator-image/target/tessera-curator.jar dev.tessera.curator.bench.FilterCostBenchmark \
 *     [samples=1500] [rounds=5]
 * </pre>
 */
public final class FilterCostBenchmark {
  private FilterCostBenchmark() {}

  public static void main(String[] args) throws IOException {
    int samples = args.length > 0 ? Integer.parseInt(args[0]) : 1500;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    Path dir = Files.createTempDirectory("tessera-filter-bench");
    List<Sample> pool;
    try {
      // The samples own copies of their members: the shard is deleted below.
      pool = BenchSamples.synthetic(dir, samples, 7);
    } finally {
      BenchSamples.deleteTree(dir);
    }
    BasicFilters filters = BasicFilters.defaults();
    double[] decodeSeconds = new double[rounds];
    double[] factsSeconds = new double[rounds];
    long checksum = 0;
    for (int round = -1; round < rounds; round++) {
      long start = System.nanoTime();
      for (Sample sample : pool) {
        checksum += ImageIO.read(new ByteArrayInputStream(sample.image().orElseThrow())).getWidth();
      }
      double decode = (System.nanoTime() - start) / 1e9;
      start = System.nanoTime();
      for (Sample sample : pool) {
        checksum += SampleFacts.of(sample, filters).width();
      }
      double facts = (System.nanoTime() - start) / 1e9;
      if (round >= 0) { // round -1 warms up
        decodeSeconds[round] = decode;
        factsSeconds[round] = facts;
      }
    }
    Arrays.sort(decodeSeconds);
    Arrays.sort(factsSeconds);
    double decode = decodeSeconds[rounds / 2];
    double facts = factsSeconds[rounds / 2];

    // Where the extra time goes: each stage alone over the same images (median of the rounds).
    List<BufferedImage> images = new ArrayList<>();
    for (Sample sample : pool) {
      images.add(ImageIO.read(new ByteArrayInputStream(sample.image().orElseThrow())));
    }
    Map<String, Runnable> stages = new LinkedHashMap<>();
    stages.put(
        "decode with the pixel bound (BoundedDecoder)",
        () -> {
          for (Sample sample : pool) {
            BoundedDecoder.decode(
                new ByteArrayInputStream(sample.image().orElseThrow()), filters.maxPixels());
          }
        });
    stages.put(
        "perceptual hash (pixel survey + DCT)",
        () -> images.forEach(image -> PerceptualHash.of(image)));
    stages.put(
        "image checks (pixel survey + size, aspect, contrast)",
        () -> images.forEach(filters::imageProblems));
    stages.put(
        "caption checks",
        () -> pool.forEach(sample -> filters.captionProblems(sample.caption().orElse(""))));
    stages.put(
        "SHA-256 of the image bytes",
        () -> pool.forEach(sample -> Sha256.of(sample.image().orElseThrow())));
    StringBuilder breakdown = new StringBuilder();
    for (Map.Entry<String, Runnable> stage : stages.entrySet()) {
      double[] seconds = new double[rounds];
      for (int round = -1; round < rounds; round++) {
        long start = System.nanoTime();
        stage.getValue().run();
        if (round >= 0) {
          seconds[round] = (System.nanoTime() - start) / 1e9;
        }
      }
      Arrays.sort(seconds);
      breakdown.append(
          String.format(
              Locale.ROOT,
              "  %-52s %6.0f us/image%n",
              stage.getKey(),
              seconds[rounds / 2] / pool.size() * 1e6));
    }
    String formats = formats(pool).toString();
    System.out.printf(
        Locale.ROOT,
        "%d synthetic images %s, one thread, median of %d rounds:%n"
            + "  plain decode (ImageIO.read):                   %7.0f images/s%n"
            + "  decode + basic filters + SHA-256 + pHash:      %7.0f images/s%n"
            + "  stages alone (plain decode: %.0f us/image):%n%s"
            + "  filters on top of decoding: +%.1f%% (goal < 25%%)  [checksum %d]%n",
        pool.size(),
        formats,
        rounds,
        pool.size() / decode,
        pool.size() / facts,
        decode / pool.size() * 1e6,
        breakdown,
        100 * (facts / decode - 1),
        checksum);
  }

  private static Map<String, Integer> formats(List<Sample> pool) {
    Map<String, Integer> counts = new java.util.TreeMap<>();
    for (Sample sample : pool) {
      counts.merge(sample.imageExtension().orElse("none"), 1, Integer::sum);
    }
    return counts;
  }
}
