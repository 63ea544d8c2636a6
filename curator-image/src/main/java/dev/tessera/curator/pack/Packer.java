package dev.tessera.curator.pack;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.tessera.curator.Tasks;
import dev.tessera.data.io.AtomicFiles;
import dev.tessera.data.io.Sha256;
import dev.tessera.data.manifest.ShardManifest;
import dev.tessera.data.packed.PackedLayout;
import dev.tessera.data.packed.PackedSequence;
import dev.tessera.data.packed.PackedShardWriter;
import dev.tessera.data.packing.BinPacker;
import dev.tessera.data.packing.Packing;
import dev.tessera.data.progress.ProgressReporter;
import dev.tessera.data.webdataset.ReadOptions;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.WebDatasetReader;
import dev.tessera.model.text.QwenTokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * The PackJob worker: caption samples in, packed training sequences out, in three phases.
 *
 * <ol>
 *   <li><b>Scan</b>, in parallel over input shards: tokenise each caption in Open-Qwen2VL's layout,
 *       re-encode its image for the vision tower, and write both to a scan file per input shard
 *       (the only pass that decodes images).
 *   <li><b>Plan</b>: read every sample's multimodal length (four bytes each; no images) and pack
 *       all samples of the input together with exact first-fit (or best-fit) decreasing.
 *   <li><b>Write</b>, in parallel over output shards: lay each sequence's samples end to end from
 *       the scan files and write packed shards with their indexes.
 * </ol>
 *
 * Every unit of work is written under a temporary name and renamed when complete, and marked done
 * by a small file written after it, so a killed run continued with {@code resume} redoes only
 * unfinished units. Output depends only on the input and the options — not on the number of workers
 * or on interruptions — so it is byte-identical however it was produced. Intermediate files live in
 * {@code OUT/.work} and are removed once the manifest is written.
 */
public final class Packer {
  public static final String WORK_DIR = ".work";
  private static final String SPEC_FILE = "spec.json";

  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .enable(SerializationFeature.INDENT_OUTPUT)
          .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
          .build();

  private final PackOptions options;
  private final PrintWriter log;
  private final Path work;
  private final Map<String, Object> spec;

  private ProgressReporter progress = ProgressReporter.NONE;

  private Packer(PackOptions options, PrintWriter log, Map<String, Object> spec) {
    this.options = options;
    this.log = log;
    this.work = options.out().resolve(WORK_DIR);
    this.spec = spec;
  }

  /**
   * Packs {@code options.inputs()} into {@code options.out()}.
   *
   * @return the statistics also written to {@code stats.json}
   * @throws PackException when the output directory is in a state the options do not allow
   */
  public static PackStats run(PackOptions options, PrintWriter log) throws IOException {
    return run(options, log, ProgressReporter.NONE);
  }

  /** As {@link #run(PackOptions, PrintWriter)}, reporting progress and the outcome. */
  public static PackStats run(PackOptions options, PrintWriter log, ProgressReporter progress)
      throws IOException {
    try {
      Packer packer = new Packer(options, log, spec(options));
      packer.progress = progress;
      PackStats stats = packer.run();
      Map<String, Object> figures = new LinkedHashMap<>();
      figures.put("samples", stats.samples());
      figures.put("dropped", stats.dropped());
      figures.put("sequences", stats.sequences());
      figures.put("fillRatio", stats.fillRatio());
      figures.put("lowerBoundSequences", stats.lowerBoundSequences());
      progress.progress(figures);
      progress.phase("Succeeded", "packed " + stats.samples() + " samples");
      return stats;
    } catch (IOException | RuntimeException e) {
      progress.phase("Failed", String.valueOf(e.getMessage()));
      throw e;
    } finally {
      progress.close();
    }
  }

  /** Options that decide the output, with the inputs' names and sizes and the tokenizer's hash. */
  private static Map<String, Object> spec(PackOptions options) throws IOException {
    Map<String, Object> spec = new LinkedHashMap<>();
    spec.put("command", "pack");
    List<Map<String, Object>> inputs = new ArrayList<>();
    for (int i = 0; i < options.inputs().size(); i++) {
      Path input = options.inputs().get(i);
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("name", input.getFileName().toString());
      entry.put("bytes", Files.size(input));
      if (options.repeats().get(i) != 1.0) {
        // Only when set, so a set packed without repeats keeps the spec it always had.
        entry.put("repeat", options.repeats().get(i));
      }
      inputs.add(entry);
    }
    spec.put("inputs", inputs);
    spec.put("tokenizer", Sha256.ofFile(options.tokenizer()));
    spec.put("sequenceLength", options.sequenceLength());
    spec.put("imageTokens", options.imageTokens());
    spec.put("imageSize", options.imageSize());
    spec.put("jpegQuality", options.jpegQuality());
    spec.put("maxImagePixels", options.maxImagePixels());
    spec.put("algorithm", options.algorithm().shortName());
    spec.put("overlong", options.overlong().name().toLowerCase(Locale.ROOT));
    spec.put("sequencesPerShard", options.sequencesPerShard());
    return normalised(spec);
  }

  private PackStats run() throws IOException {
    Path out = options.out();
    if (Files.isRegularFile(out.resolve(ShardManifest.FILE_NAME))) {
      return alreadyPacked(out);
    }
    prepareWorkDirectory(out);

    long started = System.nanoTime();
    try (QwenTokenizer tokenizer = QwenTokenizer.load(options.tokenizer())) {
      PackedLayout layout =
          new PackedLayout(
              options.sequenceLength(),
              options.imageTokens(),
              PackedLayout.IMAGE_TOKEN_ID,
              tokenizer.specialId(QwenTokenizer.END_OF_TEXT),
              options.imageSize(),
              PackedLayout.CAPTION_TEMPLATE,
              (String) spec.get("tokenizer"),
              tokenizer.vocabularySize());
      List<ScanSummary> scans = scanAll(tokenizer);
      note("scan: done in %.1f s%n", seconds(started));

      List<ScanFile.Reader> readers = new ArrayList<>();
      for (int i = 0; i < options.inputs().size(); i++) {
        readers.add(ScanFile.Reader.open(scanFile(i)));
      }
      long planStarted = System.nanoTime();
      Plan plan = plan(readers);
      Packing packing = plan.packing();
      note(
          "plan: %,d samples into %,d sequences (lower bound %,d, fill %.4f) in %.2f s%n",
          packing.sampleCount(),
          packing.binCount(),
          packing.lowerBound(),
          packing.fillRatio(),
          seconds(planStarted));

      long writeStarted = System.nanoTime();
      List<ShardManifest.Shard> shards = writeAll(layout, readers, plan);
      note("write: done in %.1f s%n", seconds(writeStarted));

      PackStats stats = stats(scans, plan, shards.size());
      AtomicFiles.write(out.resolve(PackStats.FILE_NAME), JSON.writeValueAsBytes(stats));
      ShardManifest.of(ShardManifest.KIND_PACKED, layout.toMap(), spec, shards).write(out);
      if (!options.keepWork()) {
        AtomicFiles.deleteRecursively(work);
      }
      note(
          "packed %,d samples into %,d sequences in %d shards (%.1f s); dropped %,d%n",
          stats.samples(), stats.sequences(), stats.shards(), seconds(started), stats.dropped());
      return stats;
    }
  }

  private PackStats alreadyPacked(Path out) throws IOException {
    ShardManifest manifest = ShardManifest.read(out);
    if (!ShardManifest.KIND_PACKED.equals(manifest.kind()) || !options.resume()) {
      throw new PackException(
          out
              + " already holds a finished "
              + manifest.kind()
              + " set; choose another --out"
              + (ShardManifest.KIND_PACKED.equals(manifest.kind())
                  ? " (or pass --resume to accept it as done)"
                  : ""));
    }
    if (!Objects.equals(manifest.spec(), spec)) {
      throw new PackException(
          out + " holds a packed set made with other inputs or options: " + differences(manifest));
    }
    AtomicFiles.deleteRecursively(work);
    note("pack: %s is already complete", out);
    return JSON.readValue(out.resolve(PackStats.FILE_NAME).toFile(), PackStats.class);
  }

  private String differences(ShardManifest manifest) {
    Map<?, ?> theirs = manifest.spec() == null ? Map.of() : manifest.spec();
    List<String> keys = new ArrayList<>();
    for (String key : new TreeMap<>(spec).keySet()) {
      if (!Objects.equals(theirs.get(key), spec.get(key))) {
        keys.add(String.valueOf(key));
      }
    }
    return "differs in " + String.join(", ", keys);
  }

  private void prepareWorkDirectory(Path out) throws IOException {
    Path specFile = work.resolve(SPEC_FILE);
    if (Files.isDirectory(work)) {
      if (!options.resume()) {
        throw new PackException(
            out
                + " holds an unfinished pack run; continue it with --resume, or delete "
                + out
                + " to start over");
      }
      if (Files.isRegularFile(specFile)) {
        @SuppressWarnings("unchecked")
        Map<String, Object> previous = JSON.readValue(specFile.toFile(), Map.class);
        if (!previous.equals(spec)) {
          ShardManifest asManifest =
              ShardManifest.of(ShardManifest.KIND_PACKED, previous, List.of());
          throw new PackException(
              "the unfinished run in "
                  + out
                  + " used other inputs or options ("
                  + differences(asManifest)
                  + "); rerun it with the same ones, or delete "
                  + out);
        }
        note("pack: resuming the run in %s", out);
        return;
      }
    } else if (Files.isDirectory(out)) {
      try (Stream<Path> entries = Files.list(out)) {
        if (entries.findAny().isPresent()) {
          throw new PackException(out + " exists and is not empty; choose an empty --out");
        }
      }
    }
    Files.createDirectories(work.resolve("scan"));
    Files.createDirectories(work.resolve("written"));
    AtomicFiles.write(specFile, JSON.writeValueAsBytes(spec));
  }

  // ---- scan ----------------------------------------------------------------------------------

  private Path scanFile(int input) {
    return work.resolve("scan").resolve(String.format(Locale.ROOT, "%05d.scan", input));
  }

  private Path scanSummaryFile(int input) {
    return work.resolve("scan").resolve(String.format(Locale.ROOT, "%05d.json", input));
  }

  private List<ScanSummary> scanAll(QwenTokenizer tokenizer) throws IOException {
    CaptionTokens captions = new CaptionTokens(tokenizer, options);
    int total = options.inputs().size();
    AtomicInteger done = new AtomicInteger();
    AtomicLong samples = new AtomicLong();
    long started = System.nanoTime();
    List<Callable<ScanSummary>> tasks = new ArrayList<>();
    for (int i = 0; i < total; i++) {
      int input = i;
      tasks.add(
          () -> {
            ScanSummary summary = readScanSummary(input);
            boolean fresh = summary == null;
            if (fresh) {
              summary = scan(input, captions);
            }
            long read = samples.addAndGet(summary.read());
            int finished = done.incrementAndGet();
            note(
                "scan: %d/%d shards, %,d samples%s%s%n",
                finished,
                total,
                read,
                fresh
                    ? String.format(Locale.ROOT, ", %,.0f samples/s", read / seconds(started))
                    : "",
                fresh ? "" : " (" + summary.source() + " scanned before)");
            progress.progress(
                Map.of("stage", "scan", "shardsDone", finished, "shards", total, "samples", read));
            return summary;
          });
    }
    return runAll(tasks);
  }

  private ScanSummary readScanSummary(int input) throws IOException {
    Path file = scanSummaryFile(input);
    if (!Files.isRegularFile(file) || !Files.isRegularFile(scanFile(input))) {
      return null;
    }
    return JSON.readValue(file.toFile(), ScanSummary.class);
  }

  private ScanSummary scan(int input, CaptionTokens captions) throws IOException {
    Path shard = options.inputs().get(input);
    String source = shard.getFileName().toString();
    ImageReencoder images =
        new ImageReencoder(options.imageSize(), options.jpegQuality(), options.maxImagePixels());
    Map<String, Long> dropped = new TreeMap<>();
    long kept = 0;
    long truncated = 0;
    ReadOptions readOptions = ReadOptions.defaults();
    try (WebDatasetReader reader = WebDatasetReader.open(List.of(shard), readOptions);
        ScanFile.Writer writer = new ScanFile.Writer(scanFile(input))) {
      while (reader.hasNext()) {
        Sample sample = reader.next();
        CaptionTokens.Result text = captions.of(sample.caption().orElse(""));
        if (text.dropReason() != null) {
          dropped.merge(text.dropReason(), 1L, Long::sum);
          continue;
        }
        ImageReencoder.Result image = images.process(sample);
        if (image.dropReason() != null) {
          dropped.merge(image.dropReason(), 1L, Long::sum);
          continue;
        }
        ScanFile.Entry entry =
            new ScanFile.Entry(
                uidOf(sample),
                source + "/" + sample.key(),
                text.ids(),
                text.truncated(),
                image.extension(),
                image.bytes());
        writer.add(entry, text.ids().length - 1 + options.imageTokens());
        kept++;
        truncated += text.truncated() ? 1 : 0;
      }
      writer.finish();
      long readerDropped = reader.report().droppedSamples();
      if (readerDropped > 0) {
        dropped.merge("unreadable", readerDropped, Long::sum);
      }
      Map<String, Long> problems = new TreeMap<>();
      reader
          .report()
          .counts()
          .forEach((kind, count) -> problems.put(kind.name().toLowerCase(Locale.ROOT), count));
      long read = reader.report().samples() + readerDropped;
      ScanSummary summary =
          new ScanSummary(source, Files.size(shard), read, kept, dropped, problems, truncated);
      AtomicFiles.write(scanSummaryFile(input), JSON.writeValueAsBytes(summary));
      return summary;
    }
  }

  /** The DataComp uid from the sample's metadata, when it has a well-formed one. */
  private static String uidOf(Sample sample) {
    byte[] json = sample.json().orElse(null);
    if (json == null) {
      return null;
    }
    try {
      Object uid = JSON.readValue(json, Map.class).get("uid");
      return uid instanceof String text && !text.isBlank() ? text : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  // ---- plan ----------------------------------------------------------------------------------

  /**
   * Which samples go into which sequences. Without repeats that is one packing of every sample;
   * with them, one packing per round of {@link Repeats}, joined, and {@link Plan#sampleOf} maps
   * each packed place back to its sample.
   */
  private Plan plan(List<ScanFile.Reader> readers) {
    long total = readers.stream().mapToLong(ScanFile.Reader::count).sum();
    if (total > Integer.MAX_VALUE - 8) {
      throw new PackException(
          total + " samples in one pack run; split the input (at most 2^31 per run)");
    }
    int[] lengths = new int[(int) total];
    int[] counts = new int[readers.size()];
    int at = 0;
    for (int i = 0; i < readers.size(); i++) {
      int[] shardLengths = readers.get(i).lengths();
      System.arraycopy(shardLengths, 0, lengths, at, shardLengths.length);
      counts[i] = shardLengths.length;
      at += shardLengths.length;
    }
    if (Repeats.once(options.repeats())) {
      return new Plan(
          BinPacker.pack(lengths, options.sequenceLength(), options.algorithm()), null, total);
    }
    List<String> names = options.inputs().stream().map(p -> p.getFileName().toString()).toList();
    List<int[]> rounds = Repeats.rounds(counts, options.repeats(), names);
    if (rounds.isEmpty()) {
      return new Plan(
          BinPacker.pack(new int[0], options.sequenceLength(), options.algorithm()), new int[0], 0);
    }
    long places = rounds.stream().mapToLong(round -> round.length).sum();
    if (places > Integer.MAX_VALUE - 8) {
      throw new PackException(
          places + " samples with their repeats in one pack run; repeat less or split the input");
    }
    int[] sampleOf = new int[(int) places];
    List<Packing> packings = new ArrayList<>();
    int place = 0;
    for (int[] round : rounds) {
      int[] roundLengths = new int[round.length];
      for (int i = 0; i < round.length; i++) {
        roundLengths[i] = lengths[round[i]];
      }
      packings.add(BinPacker.pack(roundLengths, options.sequenceLength(), options.algorithm()));
      System.arraycopy(round, 0, sampleOf, place, round.length);
      place += round.length;
    }
    note(
        "plan: %d rounds of repeats, %,d of %,d samples chosen, %,d places%n",
        rounds.size(), rounds.get(0).length, total, places);
    return new Plan(Packing.concat(packings), sampleOf, rounds.get(0).length);
  }

  /**
   * The packing, and the sample each of its places holds.
   *
   * @param packing the sequences, over places
   * @param sampleOf the sample (numbered across shards in order) at each place; null when every
   *     sample is packed once, in its own place
   * @param chosen samples packed at least once (all of round 0 of the repeats)
   */
  private record Plan(Packing packing, int[] sampleOf, long chosen) {
    int sampleAt(int place) {
      return sampleOf == null ? place : sampleOf[place];
    }
  }

  // ---- write ---------------------------------------------------------------------------------

  private Path writtenMarker(int shard) {
    return work.resolve("written").resolve(String.format(Locale.ROOT, "%05d.json", shard));
  }

  private List<ShardManifest.Shard> writeAll(
      PackedLayout layout, List<ScanFile.Reader> readers, Plan plan) throws IOException {
    Packing packing = plan.packing();
    int[] firstSample = new int[readers.size() + 1];
    for (int i = 0; i < readers.size(); i++) {
      firstSample[i + 1] = firstSample[i] + readers.get(i).count();
    }
    int perShard = options.sequencesPerShard();
    int shardCount = (packing.binCount() + perShard - 1) / perShard;
    AtomicInteger done = new AtomicInteger();
    List<Callable<ShardManifest.Shard>> tasks = new ArrayList<>();
    for (int s = 0; s < shardCount; s++) {
      int shard = s;
      tasks.add(
          () -> {
            Path marker = writtenMarker(shard);
            ShardManifest.Shard written;
            if (Files.isRegularFile(marker)) {
              written = JSON.readValue(marker.toFile(), ShardManifest.Shard.class);
            } else {
              int first = shard * perShard;
              int last = Math.min(packing.binCount(), first + perShard);
              written = writeShard(shard, first, last, layout, readers, firstSample, plan);
              AtomicFiles.write(marker, JSON.writeValueAsBytes(written));
            }
            int finished = done.incrementAndGet();
            note("write: %d/%d shards%n", finished, shardCount);
            progress.progress(
                Map.of(
                    "stage",
                    "write",
                    "shardsDone",
                    finished,
                    "shards",
                    shardCount,
                    "sequences",
                    packing.binCount(),
                    "lowerBoundSequences",
                    packing.lowerBound()));
            return written;
          });
    }
    List<ShardManifest.Shard> shards = runAll(tasks);
    shards.sort(Comparator.comparing(ShardManifest.Shard::name));
    return shards;
  }

  private ShardManifest.Shard writeShard(
      int shard,
      int firstBin,
      int lastBin,
      PackedLayout layout,
      List<ScanFile.Reader> readers,
      int[] firstSample,
      Plan plan)
      throws IOException {
    Packing packing = plan.packing();
    try (PackedShardWriter writer = new PackedShardWriter(options.out(), shard)) {
      for (int bin = firstBin; bin < lastBin; bin++) {
        List<PackedSequence.Part> parts = new ArrayList<>(packing.binSize(bin));
        for (int k = 0; k < packing.binSize(bin); k++) {
          int sample = plan.sampleAt(packing.member(bin, k));
          int input = upperBound(firstSample, sample) - 1;
          ScanFile.Entry entry = readers.get(input).read(sample - firstSample[input]);
          parts.add(
              new PackedSequence.Part(
                  entry.uid(),
                  entry.key(),
                  entry.ids(),
                  entry.truncated(),
                  entry.imageExtension(),
                  ByteBuffer.wrap(entry.image())));
        }
        writer.write(PackedSequence.build(bin, layout, parts));
      }
      return writer.finish();
    }
  }

  /** The first index whose value is greater than {@code key} in an ascending array. */
  private static int upperBound(int[] sorted, int key) {
    int low = 0;
    int high = sorted.length;
    while (low < high) {
      int mid = (low + high) >>> 1;
      if (sorted[mid] <= key) {
        low = mid + 1;
      } else {
        high = mid;
      }
    }
    return low;
  }

  // ---- stats ---------------------------------------------------------------------------------

  private PackStats stats(List<ScanSummary> scans, Plan plan, int shards) {
    Packing packing = plan.packing();
    long read = 0;
    long truncated = 0;
    Map<String, Long> dropped = new TreeMap<>();
    long kept = 0;
    for (ScanSummary scan : scans) {
      read += scan.read();
      kept += scan.kept();
      truncated += scan.truncated();
      scan.dropped().forEach((reason, count) -> dropped.merge(reason, count, Long::sum));
    }
    long droppedTotal = dropped.values().stream().mapToLong(Long::longValue).sum();
    // Every packed place holds its sample's text tokens and the image's.
    long textTokens = packing.totalLength() - (long) packing.sampleCount() * options.imageTokens();
    int minSamples = Integer.MAX_VALUE;
    int maxSamples = 0;
    for (int bin = 0; bin < packing.binCount(); bin++) {
      minSamples = Math.min(minSamples, packing.binSize(bin));
      maxSamples = Math.max(maxSamples, packing.binSize(bin));
    }
    Map<String, Double> perSequence = new LinkedHashMap<>();
    if (packing.binCount() > 0) {
      perSequence.put("min", (double) minSamples);
      perSequence.put("mean", round((double) packing.sampleCount() / packing.binCount()));
      perSequence.put("max", (double) maxSamples);
    }
    long lowerBound = packing.lowerBound();
    return new PackStats(
        read,
        packing.sampleCount(),
        droppedTotal,
        dropped,
        truncated,
        kept - plan.chosen(),
        packing.sampleCount() - plan.chosen(),
        packing.binCount(),
        packing.totalLength(),
        textTokens,
        packing.binCount() == 0 ? 0 : round(packing.fillRatio()),
        lowerBound,
        lowerBound == 0 ? 0 : round((double) packing.binCount() / lowerBound - 1),
        options.sequenceLength(),
        options.imageTokens(),
        options.algorithm().shortName(),
        perSequence,
        shards);
  }

  private static double round(double value) {
    return Math.round(value * 1e6) / 1e6;
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** Runs tasks on the worker pool; the first failure cancels the rest and is rethrown. */
  private <T> List<T> runAll(List<Callable<T>> tasks) throws IOException {
    return Tasks.runAll(tasks, options.workers(), "pack-worker");
  }

  /** One line of progress to the log, flushed so it shows while the run goes on. */
  private void note(String format, Object... args) {
    synchronized (log) {
      log.printf(Locale.ROOT, format.endsWith("%n") ? format : format + "%n", args);
      log.flush();
    }
  }

  private static double seconds(long startNanos) {
    return Math.max(1e-9, (System.nanoTime() - startNanos) / 1e9);
  }

  /** {@code value} as it reads back from JSON (numbers in their smallest boxed type). */
  @SuppressWarnings("unchecked")
  private static Map<String, Object> normalised(Map<String, Object> value) {
    try {
      return JSON.readValue(JSON.writeValueAsBytes(value), Map.class);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
