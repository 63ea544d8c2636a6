package dev.tessera.curator.curate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.tessera.curator.Tasks;
import dev.tessera.curator.filter.BasicFilters;
import dev.tessera.curator.filter.Deduplicator;
import dev.tessera.curator.filter.SampleFacts;
import dev.tessera.curator.filter.Selection;
import dev.tessera.curator.image.BoundedDecoder;
import dev.tessera.data.io.AtomicFiles;
import dev.tessera.data.manifest.ShardManifest;
import dev.tessera.data.progress.ProgressReporter;
import dev.tessera.data.scores.ScoreRow;
import dev.tessera.data.scores.ScoreTable;
import dev.tessera.data.uid.Uid;
import dev.tessera.data.uid.UidIndex;
import dev.tessera.data.uid.UidListWriter;
import dev.tessera.data.webdataset.ReadOptions;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.ShardWriter;
import dev.tessera.data.webdataset.WebDatasetReader;
import dev.tessera.engine.Backend;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.text.QwenTokenizer;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The CurationJob worker's three phases over a list of input shards, each idempotent per unit of
 * work (see {@code docs/curation.md}):
 *
 * <ul>
 *   <li><b>score</b> — per input shard (this worker's shards: index i of n takes every n-th), one
 *       Parquet table in {@code OUT/scores}: measurements and the basic filters' reasons. A table
 *       that exists and reads back is not redone.
 *   <li><b>select</b> — over all tables in shard order: duplicates across the pool, uid lists, the
 *       selection rule; writes {@code OUT/kept.tsv} (shard, key of each kept sample in pool order),
 *       {@code OUT/uids.npy} (sorted, DataComp's format) and {@code OUT/stats.json}.
 *   <li><b>reshard</b> — the kept samples into new shards of {@code samplesPerShard} in {@code
 *       OUT/shards} (output shard k to worker k mod n); the manifest once every shard exists.
 * </ul>
 */
public final class Curator {
  public static final String SCORES = "scores";
  public static final String SHARDS = "shards";
  public static final String KEPT = "kept.tsv";
  public static final String UIDS = "uids.npy";
  public static final String STATS = "stats.json";

  /** JPEG quality of resized images (img2dataset's default). */
  static final int RESIZE_JPEG_QUALITY = 95;

  static final ObjectMapper JSON =
      JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

  private final List<Path> shards;
  private final Path out;
  private final CurationSpec spec;
  private final int workers;
  private final PrintWriter log;
  private final ProgressReporter progress;

  /** Where the model scorers compute. */
  private Backend scorerBackend = CpuBackend.get();

  /**
   * @param shards the input shards, in pool order (file names must be distinct)
   * @param out the output directory
   * @param workers threads for the parallel phases (results do not depend on it)
   */
  public Curator(
      List<Path> shards,
      Path out,
      CurationSpec spec,
      int workers,
      PrintWriter log,
      ProgressReporter progress) {
    this.shards = List.copyOf(shards);
    this.out = out;
    this.spec = spec;
    this.workers = Math.max(1, workers);
    this.log = log;
    this.progress = progress;
    Set<String> names = new HashSet<>();
    for (Path shard : shards) {
      if (!names.add(tableName(shard))) {
        throw new IllegalArgumentException(
            "two input shards are both named "
                + shard.getFileName()
                + ": score tables would clash");
      }
    }
  }

  /** The score table of an input shard: its file name with {@code .parquet} for {@code .tar}. */
  static String tableName(Path shard) {
    return shard.getFileName().toString().replaceAll("\\.tar$", "") + ".parquet";
  }

  // ---- score --------------------------------------------------------------------------------

  /** Scores this worker's shards ({@code index} of {@code count}); returns the tables written. */
  public int score(int index, int count) throws IOException {
    Path tables = Files.createDirectories(out.resolve(SCORES));
    List<Path> mine = new ArrayList<>();
    for (int i = index; i < shards.size(); i += count) {
      mine.add(shards.get(i));
    }
    AtomicLong done = new AtomicLong();
    AtomicLong samples = new AtomicLong();
    AtomicLong kept = new AtomicLong();
    List<Callable<Boolean>> jobs = new ArrayList<>();
    for (Path shard : mine) {
      jobs.add(
          () -> {
            boolean fresh = scoreShard(shard, tables.resolve(tableName(shard)), samples, kept);
            report("score", done.incrementAndGet(), mine.size(), samples.get(), kept.get());
            return fresh;
          });
    }
    int written = 0;
    for (boolean fresh : Tasks.runAll(jobs, workers, "curate-worker")) {
      written += fresh ? 1 : 0;
    }
    log.printf(
        "score: %d of %d shards scored now (%d already done), %d samples, %d pass the basic"
            + " filters%n",
        written, mine.size(), mine.size() - written, samples.get(), kept.get());
    log.flush();
    return written;
  }

  /**
   * Samples of this worker's shards that could not be read: damaged tar members the reader
   * reported, and images that do not decode ({@code bad_image}). Reported for the operator's
   * curation error-rate alert.
   */
  private final AtomicLong unreadable = new AtomicLong();

  private static long badImages(List<ScoreRow> rows) {
    return rows.stream().filter(r -> r.reasons().contains("bad_image")).count();
  }

  private boolean scoreShard(Path shard, Path table, AtomicLong samples, AtomicLong kept)
      throws IOException {
    if (Files.exists(table)) {
      try {
        List<ScoreRow> rows = ScoreTable.read(table);
        unreadable.addAndGet(badImages(rows));
        samples.addAndGet(rows.size());
        kept.addAndGet(rows.stream().filter(ScoreRow::passes).count());
        return false; // complete: tables are renamed into place whole
      } catch (IOException e) {
        log.printf("score: %s is damaged, scoring %s again%n", table.getFileName(), shard);
      }
    }
    BasicFilters filters = spec.basic() == null ? noFilters() : spec.basic();
    List<Draft> drafts = new ArrayList<>();
    List<Pending> clipBatch = new ArrayList<>();
    List<Pending> mlmBatch = new ArrayList<>();
    try (WebDatasetReader reader = WebDatasetReader.open(List.of(shard), ReadOptions.anySample())) {
      while (reader.hasNext()) {
        Sample sample = reader.next();
        SampleFacts facts = SampleFacts.of(sample, filters);
        List<String> reasons = spec.basic() == null ? List.of() : facts.reasons();
        Map<String, Double> scores = new HashMap<>();
        drafts.add(new Draft(sample.key(), uid(sample), facts, reasons, scores));
        boolean scored = spec.mlmFilter() != null || spec.clipScore() != null;
        // Decoded once for every model scorer; samples the basic filters reject are not scored.
        BufferedImage image = scored && reasons.isEmpty() ? decodeForScoring(sample) : null;
        if (image != null && spec.mlmFilter() != null) {
          mlmBatch.add(new Pending(image, facts.caption(), scores));
          if (mlmBatch.size() == spec.mlmFilter().batch()) {
            mlmScores(mlmBatch);
          }
        }
        if (image != null && spec.clipScore() != null) {
          clipBatch.add(new Pending(image, facts.caption(), scores));
          if (clipBatch.size() == spec.clipScore().batch()) {
            clipScores(clipBatch);
          }
        }
      }
      clipScores(clipBatch);
      mlmScores(mlmBatch);
      unreadable.addAndGet(reader.report().problems().size());
      if (!reader.report().problems().isEmpty()) {
        log.printf(
            "score: %s: %d problems reading it (%s)%n",
            shard.getFileName(),
            reader.report().problems().size(),
            reader.report().problems().get(0));
      }
    }
    List<ScoreRow> rows = new ArrayList<>();
    for (Draft draft : drafts) {
      SampleFacts facts = draft.facts();
      rows.add(
          new ScoreRow(
              shard.getFileName().toString(),
              draft.key(),
              draft.uid(),
              facts.width(),
              facts.height(),
              facts.contrast(),
              facts.contentHash(),
              facts.perceptualHash(),
              facts.caption(),
              draft.reasons(),
              draft.scores()));
    }
    ScoreTable.write(table, rows);
    unreadable.addAndGet(badImages(rows));
    samples.addAndGet(rows.size());
    kept.addAndGet(rows.stream().filter(ScoreRow::passes).count());
    return true;
  }

  /** A sample's score-table row before its scores are all in. */
  private record Draft(
      String key,
      String uid,
      SampleFacts facts,
      List<String> reasons,
      Map<String, Double> scores) {}

  /** A sample waiting for its model scorer's batch; its scores go into {@code scores}. */
  private record Pending(BufferedImage image, String caption, Map<String, Double> scores) {}

  /** The clipScore scorer, made on first use and shared (its calls run one at a time). */
  private ClipScorer clipScorer;

  /**
   * Runs the model scorers (clipScore, mlmFilter) on {@code backend} instead of the CPU; the caller
   * closes it after the phases ran.
   */
  public Curator scorersOn(Backend backend) {
    this.scorerBackend = backend;
    return this;
  }

  /** Scores the waiting samples in one batch and empties the list. */
  private void clipScores(List<Pending> pending) throws IOException {
    if (pending.isEmpty()) {
      return;
    }
    CurationSpec.ClipScoreSettings settings = spec.clipScore();
    synchronized (this) {
      if (clipScorer == null) {
        clipScorer =
            new ClipScorer(
                scorerBackend,
                settings.model(),
                settings.tokenizer(),
                settings.maxTokens(),
                settings.padToken());
      }
      List<ClipScorer.Score> scores =
          clipScorer.score(
              pending.stream().map(Pending::image).toList(),
              pending.stream().map(Pending::caption).toList());
      for (int i = 0; i < pending.size(); i++) {
        Map<String, Double> into = pending.get(i).scores();
        into.put(settings.column(), scores.get(i).cosine());
        if (!Double.isNaN(scores.get(i).probability())) {
          into.put(settings.column() + "_probability", scores.get(i).probability());
        }
      }
    }
    pending.clear();
  }

  /** The sample's image for a model scorer, or null when it does not decode within bounds. */
  private static BufferedImage decodeForScoring(Sample sample) throws IOException {
    BoundedDecoder.Decoded decoded;
    try (InputStream source = sample.openImage().orElseThrow()) {
      decoded = BoundedDecoder.decode(source, BasicFilters.defaults().maxPixels());
    }
    return decoded.problem() != null ? null : decoded.image();
  }

  /** The MLM-Filter scorer, made on first use and shared (its calls run one at a time). */
  private MlmFilterScorer scorer;

  /** Scores the waiting samples with the MLM-Filter model in one batch and empties the list. */
  private void mlmScores(List<Pending> pending) throws IOException {
    if (pending.isEmpty()) {
      return;
    }
    CurationSpec.MlmFilterSettings settings = spec.mlmFilter();
    String metric = settings.metric();
    synchronized (this) {
      if (scorer == null) {
        scorer =
            new MlmFilterScorer(
                scorerBackend,
                settings.model(),
                settings.visionTower(),
                QwenTokenizer.load(settings.tokenizer()),
                settings.template(),
                settings.pooledSide(),
                settings.maxNewTokens());
      }
      List<MlmFilterScorer.Score> scores =
          scorer.score(
              pending.stream().map(Pending::image).toList(),
              pending.stream().map(Pending::caption).toList());
      for (int i = 0; i < pending.size(); i++) {
        Map<String, Double> into = pending.get(i).scores();
        into.put(metric, scores.get(i).greedy());
        into.put(metric + "_expected", scores.get(i).expected());
      }
    }
    pending.clear();
  }

  /** Checks that measure but never reject (basic filters switched off). */
  private static BasicFilters noFilters() {
    return new BasicFilters(
        0, BasicFilters.defaults().maxPixels(), Double.MAX_VALUE, 0, 0, Integer.MAX_VALUE, 0, 0);
  }

  /** The DataComp uid in the sample's JSON, or "" when it has none or it is malformed. */
  private static String uid(Sample sample) {
    byte[] json = sample.json().orElse(null);
    if (json == null) {
      return "";
    }
    try {
      JsonNode node = JSON.readTree(json);
      String text = node.path("uid").asText("");
      Uid.parse(text);
      return text;
    } catch (IOException | IllegalArgumentException e) {
      return "";
    }
  }

  // ---- select -------------------------------------------------------------------------------

  /** The outcome of the select phase. */
  public record SelectStats(
      long samples, long kept, long keptWithoutUid, Map<String, Long> rejections) {}

  /** Selects over every score table; returns what it wrote to {@code stats.json}. */
  public SelectStats select() throws IOException {
    List<String> missing = new ArrayList<>();
    for (Path shard : shards) {
      if (!Files.exists(out.resolve(SCORES).resolve(tableName(shard)))) {
        missing.add(tableName(shard));
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalStateException(
          "the score phase is not complete: "
              + missing.size()
              + " of "
              + shards.size()
              + " tables missing ("
              + String.join(", ", missing.subList(0, Math.min(5, missing.size())))
              + (missing.size() > 5 ? ", ..." : "")
              + ")");
    }
    List<ScoreRow> pool = new ArrayList<>();
    for (Path shard : shards) {
      pool.addAll(ScoreTable.read(out.resolve(SCORES).resolve(tableName(shard))));
    }
    int n = pool.size();
    List<List<String>> reasons = new ArrayList<>(n);
    for (ScoreRow row : pool) {
      reasons.add(new ArrayList<>(row.reasons()));
    }
    // Duplicates across the whole pool, first of a group kept, among samples that pass so far.
    if (spec.dedup() != null) {
      Deduplicator dedup = new Deduplicator(spec.dedup().nearRadius(), spec.dedup().captions());
      for (int i = 0; i < n; i++) {
        ScoreRow row = pool.get(i);
        if (reasons.get(i).isEmpty() && row.sha256() != null && row.phash() != null) {
          String duplicate = dedup.check(row.sha256(), row.phash(), row.caption());
          if (duplicate != null) {
            reasons.get(i).add(duplicate);
          }
        }
      }
    }
    Map<String, BitSet> flags = new HashMap<>();
    for (CurationSpec.UidListFilter list : spec.uidLists()) {
      BitSet member = new BitSet(n);
      try (UidIndex index = UidIndex.open(list.path())) {
        for (int i = 0; i < n; i++) {
          String uid = pool.get(i).uid();
          if (!uid.isEmpty() && index.contains(Uid.parse(uid))) {
            member.set(i);
          }
        }
      }
      for (int i = 0; i < n; i++) {
        switch (list.mode()) {
          case INCLUDE -> {
            if (!member.get(i)) {
              reasons.get(i).add("not_in_" + list.name());
            }
          }
          case EXCLUDE -> {
            if (member.get(i)) {
              reasons.get(i).add("in_" + list.name());
            }
          }
          case FLAG -> {}
        }
      }
      flags.put(list.name(), member);
    }
    if (spec.select() != null) {
      // The rule (thresholds, top fractions) is taken over the candidates: what passed so far.
      List<Integer> candidates = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        if (reasons.get(i).isEmpty()) {
          candidates.add(i);
        }
      }
      Map<String, double[]> columns = new HashMap<>();
      Set<String> names = new TreeSet<>();
      candidates.forEach(i -> names.addAll(pool.get(i).scores().keySet()));
      for (String name : names) {
        double[] column = new double[candidates.size()];
        for (int c = 0; c < column.length; c++) {
          column[c] = pool.get(candidates.get(c)).scores().getOrDefault(name, Double.NaN);
        }
        columns.put(name, column);
      }
      Map<String, BitSet> candidateFlags = new HashMap<>();
      flags.forEach(
          (name, member) -> {
            BitSet bits = new BitSet(candidates.size());
            for (int c = 0; c < candidates.size(); c++) {
              bits.set(c, member.get(candidates.get(c)));
            }
            candidateFlags.put(name, bits);
          });
      BitSet keep;
      try {
        keep = Selection.keep(spec.select(), candidates.size(), columns, candidateFlags);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("select: " + e.getMessage(), e);
      }
      for (int c = 0; c < candidates.size(); c++) {
        if (!keep.get(c)) {
          reasons.get(candidates.get(c)).add("not_selected");
        }
      }
    }
    // Outputs, each written whole and renamed into place.
    StringBuilder kept = new StringBuilder();
    List<Uid> uids = new ArrayList<>();
    Map<String, Long> rejections = new TreeMap<>();
    long keptCount = 0;
    long withoutUid = 0;
    for (int i = 0; i < n; i++) {
      ScoreRow row = pool.get(i);
      if (reasons.get(i).isEmpty()) {
        keptCount++;
        kept.append(row.shard()).append('\t').append(row.key()).append('\n');
        if (row.uid().isEmpty()) {
          withoutUid++;
        } else {
          uids.add(Uid.parse(row.uid()));
        }
      } else {
        for (String reason : reasons.get(i)) {
          rejections.merge(reason, 1L, Long::sum);
        }
      }
    }
    AtomicFiles.write(out.resolve(KEPT), kept.toString().getBytes(StandardCharsets.UTF_8));
    uids.sort(null);
    UidListWriter.write(out.resolve(UIDS), uids); // written in place atomically
    SelectStats stats = new SelectStats(n, keptCount, withoutUid, rejections);
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("samples", n);
    json.put("kept", keptCount);
    json.put("rejected", n - keptCount);
    json.put("kept_without_uid", withoutUid);
    json.put("rejections", rejections);
    json.put("spec", spec.describe());
    AtomicFiles.write(out.resolve(STATS), JSON.writeValueAsBytes(json));
    Map<String, Object> figures = new LinkedHashMap<>();
    figures.put("samples", n);
    figures.put("kept", keptCount);
    figures.put("rejections", rejections);
    progress.progress(figures);
    log.printf("select: %d samples, %d kept; rejected by %s%n", n, keptCount, rejections);
    log.flush();
    return stats;
  }

  // ---- reshard ------------------------------------------------------------------------------

  /** Writes this worker's output shards; returns how many it wrote now. */
  public int reshard(int index, int count) throws IOException {
    Path keptFile = out.resolve(KEPT);
    if (!Files.exists(keptFile)) {
      throw new IllegalStateException("the select phase has not run: no " + keptFile);
    }
    List<String[]> kept = new ArrayList<>();
    for (String line : Files.readAllLines(keptFile, StandardCharsets.UTF_8)) {
      if (!line.isEmpty()) {
        kept.add(line.split("\t", 2));
      }
    }
    Path dir = Files.createDirectories(out.resolve(SHARDS));
    int perShard = spec.samplesPerShard();
    int outputs = (kept.size() + perShard - 1) / perShard;
    Map<String, Path> byName = new HashMap<>();
    shards.forEach(shard -> byName.put(shard.getFileName().toString(), shard));
    int written = 0;
    for (int k = index; k < outputs; k += count) {
      String name = String.format("%05d.tar", k);
      if (Files.exists(dir.resolve(name)) && Files.exists(dir.resolve("." + name + ".json"))) {
        continue; // complete: shards are renamed into place, their record written after
      }
      List<String[]> part = kept.subList(k * perShard, Math.min(kept.size(), (k + 1) * perShard));
      writeShard(dir, k, part, byName);
      written++;
      report("reshard", k + 1L, outputs, kept.size(), kept.size());
    }
    writeManifestWhenComplete(dir, outputs);
    log.printf("reshard: %d of %d output shards written now%n", written, outputs);
    log.flush();
    return written;
  }

  private void writeShard(Path dir, int k, List<String[]> part, Map<String, Path> byName)
      throws IOException {
    // The part's samples, grouped by input shard in order (pool order is shard order).
    Map<String, Set<String>> wanted = new LinkedHashMap<>();
    for (String[] entry : part) {
      wanted.computeIfAbsent(entry[0], s -> new HashSet<>()).add(entry[1]);
    }
    ShardWriter writer =
        new ShardWriter(dir, ShardWriter.Options.samplesPerShard(part.size()).withFirstIndex(k));
    ShorterSideResizer resizer =
        spec.resizeShorterSide() == 0
            ? null
            : new ShorterSideResizer(
                spec.resizeShorterSide(),
                RESIZE_JPEG_QUALITY,
                spec.basic() == null
                    ? BasicFilters.defaults().maxPixels()
                    : spec.basic().maxPixels());
    long found = 0;
    for (Map.Entry<String, Set<String>> input : wanted.entrySet()) {
      Path shard = byName.get(input.getKey());
      if (shard == null) {
        throw new IllegalStateException(
            KEPT + " names shard " + input.getKey() + ", which is not among the inputs");
      }
      try (WebDatasetReader reader =
          WebDatasetReader.open(List.of(shard), ReadOptions.anySample())) {
        while (reader.hasNext()) {
          Sample sample = reader.next();
          if (input.getValue().contains(sample.key())) {
            writer.write(resizer == null ? sample : resizer.apply(sample));
            found++;
          }
        }
      }
    }
    writer.close();
    if (found != part.size()) {
      throw new IllegalStateException(
          "output shard "
              + k
              + ": "
              + (part.size() - found)
              + " kept samples are no longer in their input shards");
    }
    ShardManifest.Shard record = writer.shards().get(0);
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("name", record.name());
    json.put("samples", record.samples());
    json.put("bytes", record.bytes());
    json.put("sha256", record.sha256());
    AtomicFiles.write(dir.resolve("." + record.name() + ".json"), JSON.writeValueAsBytes(json));
  }

  private void writeManifestWhenComplete(Path dir, int outputs) throws IOException {
    List<ShardManifest.Shard> records = new ArrayList<>();
    for (int k = 0; k < outputs; k++) {
      Path record = dir.resolve(String.format(".%05d.tar.json", k));
      if (!Files.exists(record)) {
        return; // another worker's shards are still to come
      }
      JsonNode node = JSON.readTree(record.toFile());
      records.add(
          new ShardManifest.Shard(
              node.get("name").asText(),
              node.get("samples").asLong(),
              node.get("bytes").asLong(),
              node.get("sha256").asText()));
    }
    ShardManifest.of(ShardManifest.KIND_WEBDATASET, spec.describe(), records).write(dir);
  }

  // ---- helpers ------------------------------------------------------------------------------

  private void report(String phase, long done, long total, long samples, long kept) {
    Map<String, Object> figures = new LinkedHashMap<>();
    figures.put("phase", phase);
    figures.put("done", done);
    figures.put("total", total);
    figures.put("samples", samples);
    figures.put("kept", kept);
    if ("score".equals(phase)) {
      figures.put("unreadable", unreadable.get());
    }
    progress.progress(figures);
  }
}
