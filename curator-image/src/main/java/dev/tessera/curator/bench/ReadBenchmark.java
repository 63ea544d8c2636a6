package dev.tessera.curator.bench;

import dev.tessera.data.webdataset.ReadOptions;
import dev.tessera.data.webdataset.ReadReport;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.ShardList;
import dev.tessera.data.webdataset.ShardWriter;
import dev.tessera.data.webdataset.WebDatasetReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * WebDataset read throughput against plain sequential reading of the same files, in one process.
 *
 * <p>Both sides run on one thread over files already in the page cache, alternating rounds so
 * neither profits from a warmer machine; the figure that matters is the ratio of the medians.
 *
 * <pre>
 * java -cp curator-image/target/tessera-curator.jar dev.tessera.curator.bench.ReadBenchmark \
 *     [--dir SHARDS] [--samples 20000] [--rounds 7]
 * </pre>
 */
@Command(
    name = "read-benchmark",
    mixinStandardHelpOptions = true,
    description = "WebDataset reader throughput vs plain sequential file reads.")
public final class ReadBenchmark implements Callable<Integer> {

  @Option(
      names = "--dir",
      description = "Shards to read (a directory or brace pattern); default: generate them.")
  String shards;

  @Option(names = "--samples", description = "Samples to generate (default ${DEFAULT-VALUE}).")
  int samples = 20_000;

  @Option(
      names = "--rounds",
      description = "Timed rounds of each reader (default ${DEFAULT-VALUE}).")
  int rounds = 7;

  private long sink;

  public static void main(String[] args) {
    System.exit(new CommandLine(new ReadBenchmark()).execute(args));
  }

  @Override
  public Integer call() throws IOException {
    Path generated = null;
    List<Path> files;
    if (shards == null) {
      generated = Files.createTempDirectory("tessera-read-bench");
      generate(generated, samples);
      files = ShardList.resolve(generated, ".");
    } else {
      files = ShardList.resolve(Path.of("."), shards);
    }
    long bytes = 0;
    for (Path file : files) {
      bytes += Files.size(file);
    }
    System.out.printf(
        "%d shards, %.1f MB; %d rounds each, one thread, page cache warm%n",
        files.size(), bytes / 1e6, rounds);

    plainRead(files);
    ReadReport warm = webDatasetRead(files);
    long[] plain = new long[rounds];
    long[] tar = new long[rounds];
    long[] copying = new long[rounds];
    for (int round = 0; round < rounds; round++) {
      plain[round] = time(() -> plainRead(files));
      tar[round] = time(() -> webDatasetRead(files));
      copying[round] = time(() -> webDatasetReadCopying(files));
    }
    double plainSeconds = median(plain) / 1e9;
    double tarSeconds = median(tar) / 1e9;
    double copyingSeconds = median(copying) / 1e9;
    System.out.printf("plain sequential read : %8.0f MB/s%n", bytes / 1e6 / plainSeconds);
    System.out.printf(
        "WebDataset reader     : %8.0f MB/s  %8.0f samples/s  (%d samples, %d problems)%n",
        bytes / 1e6 / tarSeconds, warm.samples() / tarSeconds, warm.samples(), warm.problemCount());
    System.out.printf(
        "reader, members copied: %8.0f MB/s  %8.0f samples/s%n",
        bytes / 1e6 / copyingSeconds, warm.samples() / copyingSeconds);
    System.out.printf("ratio reader/plain    : %.2f%n", plainSeconds / tarSeconds);
    System.out.printf("ratio copied/plain    : %.2f%n", plainSeconds / copyingSeconds);
    if (generated != null) {
      deleteTree(generated);
    }
    return sink == 42 ? 1 : 0;
  }

  /** The baseline: every byte of every file into a 1 MiB buffer, the way any program reads. */
  private void plainRead(List<Path> files) throws IOException {
    byte[] buffer = new byte[1 << 20];
    for (Path file : files) {
      try (InputStream in = Files.newInputStream(file)) {
        for (int n; (n = in.read(buffer)) > 0; ) {
          consume(ByteBuffer.wrap(buffer, 0, n));
        }
      }
    }
  }

  private ReadReport webDatasetRead(List<Path> files) {
    try (WebDatasetReader reader = WebDatasetReader.open(files, ReadOptions.defaults())) {
      while (reader.hasNext()) {
        for (ByteBuffer member : reader.next().buffers().values()) {
          consume(member);
        }
      }
      return reader.report();
    }
  }

  /** The same reader, with every member copied into its own array as a naive consumer would. */
  private void webDatasetReadCopying(List<Path> files) {
    try (WebDatasetReader reader = WebDatasetReader.open(files, ReadOptions.defaults())) {
      while (reader.hasNext()) {
        for (byte[] member : reader.next().members().values()) {
          consume(ByteBuffer.wrap(member));
        }
      }
    }
  }

  /**
   * What both sides do with the bytes they deliver: load every 64-byte cache line once, so that a
   * reader handing out views of the page cache really brings each byte in, as a decoder would.
   */
  private void consume(ByteBuffer bytes) {
    int end = bytes.limit();
    for (int i = bytes.position(); i < end; i += 64) {
      sink += bytes.get(i);
    }
  }

  /** Image-text samples with web-like JPEG sizes (log-normal, median about 40 kB). */
  static void generate(Path dir, int count) throws IOException {
    SplittableRandom random = new SplittableRandom(1);
    try (ShardWriter writer = new ShardWriter(dir, ShardWriter.Options.samplesPerShard(2000))) {
      for (int i = 0; i < count; i++) {
        int size = (int) Math.min(1 << 20, Math.exp(Math.log(40_000) + 0.7 * gaussian(random)));
        byte[] image = new byte[size];
        random.nextBytes(image);
        String key = String.format("%09d", i);
        String caption = "three red circles and a blue square on a striped background " + i;
        writer.write(
            Sample.of(
                key,
                Map.of(
                    "jpg",
                    image,
                    "txt",
                    caption.getBytes(StandardCharsets.UTF_8),
                    "json",
                    ("{\"key\":\"" + key + "\",\"caption\":\"" + caption + "\"}")
                        .getBytes(StandardCharsets.UTF_8))));
      }
      writer.writeManifest(Map.of("command", "read-benchmark"));
    }
  }

  private static double gaussian(SplittableRandom random) {
    double u = 1 - random.nextDouble();
    double v = random.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  private interface Run {
    void run() throws IOException;
  }

  private static long time(Run run) throws IOException {
    long start = System.nanoTime();
    run.run();
    return System.nanoTime() - start;
  }

  private static double median(long[] values) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }

  private static void deleteTree(Path dir) throws IOException {
    List<Path> paths = new ArrayList<>();
    try (var walk = Files.walk(dir)) {
      walk.forEach(paths::add);
    }
    for (int i = paths.size() - 1; i >= 0; i--) {
      Files.deleteIfExists(paths.get(i));
    }
  }
}
