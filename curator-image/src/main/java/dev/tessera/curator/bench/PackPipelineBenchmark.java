package dev.tessera.curator.bench;

import dev.tessera.curator.pack.ImageReencoder;
import dev.tessera.curator.pack.PackOptions;
import dev.tessera.curator.pack.PackStats;
import dev.tessera.curator.pack.Packer;
import dev.tessera.data.io.AtomicFiles;
import dev.tessera.data.packing.PackingAlgorithm;
import dev.tessera.data.synth.SynthGenerator;
import dev.tessera.data.synth.SynthOptions;
import dev.tessera.data.synth.SynthProgress;
import dev.tessera.data.webdataset.ReadOptions;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.ShardList;
import dev.tessera.data.webdataset.WebDatasetReader;
import dev.tessera.model.text.CaptionLayout;
import dev.tessera.model.text.QwenTokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * The pack worker's throughput, part by part, on synthetic image-text shards: tokenisation per core
 * (Open-Qwen2VL's caption layout against the bare Rust tokenizer on the same captions), image
 * re-encoding per core, and the whole {@code pack} run with and without image re-encoding — which
 * shows what limits it.
 *
 * <pre>
 * java -cp curator-image/target/tessera-curator.jar dev.tessera.curator.bench.PackPipelineBenchmark \
 *     TOKENIZER_JSON [samples=4000] [rounds=5]
 * </pre>
 */
public final class PackPipelineBenchmark {
  private PackPipelineBenchmark() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 1) {
      System.err.println("usage: PackPipelineBenchmark TOKENIZER_JSON [samples] [rounds]");
      System.exit(2);
    }
    Path tokenizerJson = Path.of(args[0]);
    int samples = args.length > 1 ? Integer.parseInt(args[1]) : 4000;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
    int cores = Runtime.getRuntime().availableProcessors();
    Path dir = Files.createTempDirectory("pack-bench");
    try {
      int shards = 4;
      SynthGenerator.generate(
          new SynthOptions(dir.resolve("raw"), shards, samples / shards, 7, 0.0, cores),
          SynthProgress.NONE);
      List<Path> inputs = ShardList.resolve(dir, "raw");
      List<String> captions = new ArrayList<>();
      List<Sample> images = new ArrayList<>();
      try (WebDatasetReader reader = WebDatasetReader.open(inputs, ReadOptions.defaults())) {
        while (reader.hasNext()) {
          Sample sample = reader.next();
          captions.add(sample.caption().orElseThrow());
          if (images.size() < 400) {
            images.add(sample);
          }
        }
      }
      System.out.printf(
          Locale.ROOT,
          "%d synthetic samples, %d captions, mean caption %.1f characters; %d cores%n",
          captions.size(),
          captions.size(),
          captions.stream().mapToInt(String::length).average().orElse(0),
          cores);

      try (QwenTokenizer tokenizer = QwenTokenizer.load(tokenizerJson)) {
        tokenisation(tokenizer, captions, rounds);
      }
      reencoding(images, rounds);
      endToEnd(dir, inputs, tokenizerJson, cores);
    } finally {
      AtomicFiles.deleteRecursively(dir);
    }
  }

  private static void tokenisation(QwenTokenizer tokenizer, List<String> captions, int rounds) {
    CaptionLayout layout = new CaptionLayout(tokenizer);
    long sink = 0;
    double bestBare = 0;
    double bestLayout = 0;
    long tokens = 0;
    for (int round = 0; round < rounds + 1; round++) {
      long start = System.nanoTime();
      for (String caption : captions) {
        sink += tokenizer.encode(caption).length;
      }
      double bare = captions.size() / ((System.nanoTime() - start) / 1e9);
      start = System.nanoTime();
      tokens = 0;
      for (String caption : captions) {
        tokens += layout.caption(caption).ids().length;
      }
      double laidOut = captions.size() / ((System.nanoTime() - start) / 1e9);
      if (round > 0) {
        bestBare = Math.max(bestBare, bare);
        bestLayout = Math.max(bestLayout, laidOut);
      }
    }
    System.out.printf(
        Locale.ROOT,
        "tokenisation, 1 thread: caption layout %,.0f captions/s (%.1f tokens each), bare"
            + " tokenizer %,.0f captions/s; ratio %.2f (goal: >= 20,000 captions/s per core)%n",
        bestLayout,
        (double) tokens / captions.size(),
        bestBare,
        bestLayout / bestBare);
    if (sink == 42) {
      System.out.println();
    }
  }

  private static void reencoding(List<Sample> images, int rounds) {
    ImageReencoder resize = new ImageReencoder(384, 95, PackOptions.DEFAULT_MAX_IMAGE_PIXELS);
    ImageReencoder check = new ImageReencoder(0, 95, PackOptions.DEFAULT_MAX_IMAGE_PIXELS);
    double bestResize = 0;
    double bestCheck = 0;
    for (int round = 0; round < Math.max(2, rounds / 2) + 1; round++) {
      long start = System.nanoTime();
      for (Sample sample : images) {
        resize.process(sample);
      }
      double resized = images.size() / ((System.nanoTime() - start) / 1e9);
      start = System.nanoTime();
      for (Sample sample : images) {
        check.process(sample);
      }
      double checked = images.size() / ((System.nanoTime() - start) / 1e9);
      if (round > 0) {
        bestResize = Math.max(bestResize, resized);
        bestCheck = Math.max(bestCheck, checked);
      }
    }
    System.out.printf(
        Locale.ROOT,
        "images, 1 thread: decode + resize to 384x384 + JPEG %,.0f images/s; decode only %,.0f"
            + " images/s%n",
        bestResize,
        bestCheck);
  }

  private static void endToEnd(Path dir, List<Path> inputs, Path tokenizer, int cores)
      throws IOException {
    double[] rates = new double[2];
    int[] sizes = {384, 0};
    for (int i = 0; i < sizes.length; i++) {
      Path out = dir.resolve("packed-" + sizes[i]);
      PackOptions options =
          new PackOptions(
              inputs,
              Collections.nCopies(inputs.size(), 1.0),
              out,
              tokenizer,
              4096,
              144,
              sizes[i],
              95,
              PackOptions.DEFAULT_MAX_IMAGE_PIXELS,
              PackingAlgorithm.FIRST_FIT_DECREASING,
              PackOptions.Overlong.TRUNCATE,
              PackOptions.DEFAULT_SEQUENCES_PER_SHARD,
              cores,
              false,
              false);
      StringWriter log = new StringWriter();
      long start = System.nanoTime();
      PackStats stats = Packer.run(options, new PrintWriter(log));
      double seconds = (System.nanoTime() - start) / 1e9;
      rates[i] = stats.samples() / seconds;
      String phases =
          log.toString()
              .lines()
              .filter(line -> line.contains("done in") || line.startsWith("plan:"))
              .reduce((a, b) -> a + "; " + b)
              .orElse("");
      System.out.printf(
          Locale.ROOT,
          "pack, %d workers, images %s: %,d samples -> %,d sequences (lower bound %,d) in %.1f s,"
              + " %,.0f samples/s [%s]%n",
          cores,
          sizes[i] == 0 ? "kept" : sizes[i] + "x" + sizes[i],
          stats.samples(),
          stats.sequences(),
          stats.lowerBoundSequences(),
          seconds,
          rates[i],
          phases);
    }
    System.out.printf(
        Locale.ROOT,
        "pack with re-encoding / without: %.2f (the rest of the time is image work)%n",
        rates[0] / rates[1]);
  }
}
