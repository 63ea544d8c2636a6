package dev.tessera.curator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.curator.Cli.Outcome;
import dev.tessera.curator.curate.Curator;
import dev.tessera.curator.filter.SyntheticDefects;
import dev.tessera.data.io.AtomicFiles;
import dev.tessera.data.manifest.ShardManifest;
import dev.tessera.data.scores.ScoreTable;
import dev.tessera.data.synth.SynthGenerator;
import dev.tessera.data.synth.SynthOptions;
import dev.tessera.data.synth.SynthProgress;
import dev.tessera.data.uid.Uid;
import dev.tessera.data.uid.UidIndex;
import dev.tessera.data.uid.UidListWriter;
import dev.tessera.data.webdataset.ReadOptions;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.ShardList;
import dev.tessera.data.webdataset.WebDatasetReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CurationJob worker end to end on synthetic shards with known defects: what it keeps and
 * rejects against the generator's ground truth, its outputs as their readers see them, uid lists,
 * and a run interrupted between phases and shards that finishes with the same bytes.
 */
class CurateCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> DETECTABLE = SyntheticDefects.DETECTABLE;

  @TempDir static Path dir;
  static Path raw;

  /** Generator ground truth by key: the defect, "none" for clean samples. */
  static final Map<String, String> defects = new LinkedHashMap<>();

  static final Map<String, String> uids = new HashMap<>();

  @BeforeAll
  static void synthesise() throws IOException {
    raw = dir.resolve("raw");
    SynthGenerator.generate(new SynthOptions(raw, 4, 150, 31, 0.35, 2), SynthProgress.NONE);
    try (WebDatasetReader reader =
        WebDatasetReader.open(ShardList.resolve(raw, "."), ReadOptions.anySample())) {
      while (reader.hasNext()) {
        Sample sample = reader.next();
        JsonNode json = JSON.readTree(sample.json().orElseThrow());
        defects.put(sample.key(), json.path("synthetic").path("defect").asText("none"));
        uids.put(sample.key(), json.path("uid").asText());
      }
    }
  }

  private static Outcome curate(Path out, String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "curate", "--input", raw.toString(), "--out", out.toString(), "--workers", "2"));
    args.addAll(List.of(extra));
    Outcome outcome = Cli.run(args.toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    return outcome;
  }

  private static List<String> keptKeys(Path out) throws IOException {
    List<String> keys = new ArrayList<>();
    for (String line : Files.readAllLines(out.resolve(Curator.KEPT))) {
      keys.add(line.split("\t")[1]);
    }
    return keys;
  }

  @Test
  void theDefaultsRemoveTheDefectsAndKeepTheCleanSamples() throws Exception {
    Path out = dir.resolve("defaults");
    curate(out);
    Set<String> kept = new TreeSet<>(keptKeys(out));
    Map<String, int[]> byDefect = new LinkedHashMap<>(); // [samples, rejected]
    int rejected = 0;
    int truePositives = 0;
    for (Map.Entry<String, String> sample : defects.entrySet()) {
      boolean reject = !kept.contains(sample.getKey());
      int[] counts = byDefect.computeIfAbsent(sample.getValue(), d -> new int[2]);
      counts[0]++;
      counts[1] += reject ? 1 : 0;
      rejected += reject ? 1 : 0;
      truePositives += reject && DETECTABLE.contains(sample.getValue()) ? 1 : 0;
    }
    for (String defect : DETECTABLE) {
      int[] counts = byDefect.get(defect);
      assertThat(counts).as("the data has %s samples", defect).isNotNull();
      assertThat((double) counts[1] / counts[0])
          .as("recall of %s", defect)
          .isGreaterThanOrEqualTo(0.95);
    }
    assertThat((double) truePositives / rejected).as("precision").isGreaterThanOrEqualTo(0.95);
    int[] clean = byDefect.get("none");
    assertThat(1 - (double) clean[1] / clean[0]).as("clean kept").isGreaterThanOrEqualTo(0.98);

    // stats.json agrees with kept.tsv; uids.npy holds the kept samples' uids, sorted.
    JsonNode stats = JSON.readTree(out.resolve(Curator.STATS).toFile());
    assertThat(stats.path("samples").asInt()).isEqualTo(defects.size());
    assertThat(stats.path("kept").asInt()).isEqualTo(kept.size());
    assertThat(stats.path("rejections").path("near_duplicate").asInt()).isPositive();
    try (UidIndex index = UidIndex.open(out.resolve(Curator.UIDS))) {
      assertThat(index.size()).isEqualTo(kept.size());
      for (String key : kept) {
        assertThat(index.contains(Uid.parse(uids.get(key)))).isTrue();
      }
    }
    // The new shards hold exactly the kept samples, in pool order, and match their manifest.
    List<String> resharded = new ArrayList<>();
    try (WebDatasetReader reader =
        WebDatasetReader.open(
            ShardList.resolve(out.resolve(Curator.SHARDS), "."), ReadOptions.defaults())) {
      reader.forEachRemaining(sample -> resharded.add(sample.key()));
    }
    assertThat(resharded).containsExactlyElementsOf(keptKeys(out));
    ShardManifest manifest = ShardManifest.read(out.resolve(Curator.SHARDS));
    assertThat(manifest.samples()).isEqualTo(kept.size());
    assertThat(manifest.verify(out.resolve(Curator.SHARDS))).isEmpty();
    // DuckDB reads every score table.
    try (Connection connection = DriverManager.getConnection("jdbc:duckdb:");
        ResultSet result =
            connection
                .createStatement()
                .executeQuery(
                    "SELECT count(*), count(*) FILTER (WHERE passes) FROM read_parquet('"
                        + out.resolve(Curator.SCORES).resolve("*.parquet")
                        + "')")) {
      assertThat(result.next()).isTrue();
      assertThat(result.getInt(1)).isEqualTo(defects.size());
      assertThat(result.getInt(2)).isGreaterThanOrEqualTo(kept.size());
    }
  }

  @Test
  void theScoreReportCountsUnreadableSamples() throws IOException {
    // The operator's curation error-rate alert reads this count from the worker's report.
    Path out = dir.resolve("reported");
    Path report = dir.resolve("reported-progress.json");
    curate(out, "--phase", "score", "--progress-file", report.toString());
    JsonNode progress = JSON.readTree(report.toFile()).path("progress");
    long badImages = 0;
    try (Stream<Path> tables = Files.list(out.resolve(Curator.SCORES))) {
      for (Path table : tables.toList()) {
        badImages +=
            dev.tessera.data.scores.ScoreTable.read(table).stream()
                .filter(r -> r.reasons().contains("bad_image"))
                .count();
      }
    }
    assertThat(badImages).as("the synthetic defects include corrupt images").isPositive();
    assertThat(progress.path("phase").asText()).isEqualTo("score");
    assertThat(progress.path("unreadable").asLong()).isEqualTo(badImages);
    assertThat(progress.path("samples").asLong()).isEqualTo(defects.size());
  }

  @Test
  void uidListsIncludeExcludeAndFlagExactly() throws IOException {
    // A list of every third clean sample's uid (sorted, DataComp's .npy).
    List<Uid> listed = new ArrayList<>();
    int i = 0;
    for (Map.Entry<String, String> sample : defects.entrySet()) {
      if (sample.getValue().equals("none") && i++ % 3 == 0) {
        listed.add(Uid.parse(uids.get(sample.getKey())));
      }
    }
    listed.sort(null);
    Path list = dir.resolve("list.npy");
    UidListWriter.write(list, listed);
    Path base = dir.resolve("base");
    curate(base, "--phase", "score");
    Set<String> listedHex = new TreeSet<>(listed.stream().map(Uid::toString).toList());

    Map<String, Set<String>> keptByMode = new HashMap<>();
    for (String mode : List.of("include", "exclude", "flag")) {
      Path out = dir.resolve("uid-" + mode);
      copyScores(base, out);
      Path config = dir.resolve(mode + ".yaml");
      String select = mode.equals("flag") ? "select:\n  any:\n    - {flag: picked}\n" : "";
      Files.writeString(
          config,
          "filters:\n  uidLists:\n    - {name: picked, path: "
              + list
              + ", mode: "
              + mode
              + "}\n"
              + select);
      curate(out, "--config", config.toString(), "--phase", "select");
      keptByMode.put(mode, new TreeSet<>(keptKeys(out)));
    }
    Path all = dir.resolve("uid-none");
    copyScores(base, all);
    curate(all, "--phase", "select");
    Set<String> unfiltered = new TreeSet<>(keptKeys(all));
    Set<String> in = new TreeSet<>();
    for (String key : unfiltered) {
      if (listedHex.contains(uids.get(key))) {
        in.add(key);
      }
    }
    assertThat(in).isNotEmpty();
    assertThat(keptByMode.get("include")).isEqualTo(in);
    assertThat(keptByMode.get("flag")).isEqualTo(in);
    Set<String> out = new TreeSet<>(unfiltered);
    out.removeAll(in);
    assertThat(keptByMode.get("exclude")).isEqualTo(out);
  }

  @Test
  void configPathsResolveAgainstTheVolumeWhenTold() throws IOException {
    // As in a pod: the config is mounted from a ConfigMap, the uid list is on the volume.
    List<Uid> listed = new ArrayList<>();
    for (String key : new TreeSet<>(uids.keySet())) {
      if (listed.size() < 40) {
        listed.add(Uid.parse(uids.get(key)));
      }
    }
    listed.sort(null);
    Path volume = dir.resolve("volume");
    Files.createDirectories(volume.resolve("lists"));
    UidListWriter.write(volume.resolve("lists/list.npy"), listed);
    Path etc = Files.createDirectories(dir.resolve("etc"));
    Path config = etc.resolve("curation.yaml");
    Files.writeString(
        config,
        "filters:\n  uidLists:\n    - {name: picked, path: lists/list.npy, mode: include}\n");
    Path base = dir.resolve("volume-run");
    curate(base, "--phase", "score");
    assertThatThrownBy(() -> curate(base, "--config", config.toString(), "--phase", "select"))
        .hasMessageContaining("list.npy");
    curate(
        base,
        "--config",
        config.toString(),
        "--paths-relative-to",
        volume.toString(),
        "--phase",
        "select");
    Set<String> listedHex = new TreeSet<>(listed.stream().map(Uid::toString).toList());
    List<String> kept = keptKeys(base);
    assertThat(kept).isNotEmpty().allSatisfy(k -> assertThat(listedHex).contains(uids.get(k)));
  }

  private static void copyScores(Path from, Path to) throws IOException {
    Files.createDirectories(to.resolve(Curator.SCORES));
    try (Stream<Path> tables = Files.list(from.resolve(Curator.SCORES))) {
      for (Path table : tables.toList()) {
        Files.copy(table, to.resolve(Curator.SCORES).resolve(table.getFileName()));
      }
    }
  }

  @Test
  void anInterruptedRunFinishesWithTheSameBytes() throws IOException {
    Path clean = dir.resolve("clean");
    curate(clean, "--config", smallShards().toString());
    Path resumed = dir.resolve("resumed");
    // Worker 0 of 2 scored its shards; one table was cut short by a kill, another left partial.
    curate(resumed, "--phase", "score", "--shard-index", "0", "--shard-count", "2");
    Path table = resumed.resolve(Curator.SCORES).resolve("00000.parquet");
    byte[] bytes = Files.readAllBytes(table);
    Files.write(table, java.util.Arrays.copyOf(bytes, bytes.length / 3));
    Files.writeString(
        AtomicFiles.inProgress(resumed.resolve(Curator.SCORES).resolve("00001.parquet")), "x");
    // Reshard stopped after its first shard.
    curate(resumed, "--config", smallShards().toString(), "--phase", "score");
    curate(resumed, "--config", smallShards().toString(), "--phase", "select");
    curate(
        resumed, "--config", smallShards().toString(), "--phase", "reshard", "--shard-count", "3");
    Path shards = resumed.resolve(Curator.SHARDS);
    assertThat(shards.resolve(ShardManifest.FILE_NAME)).doesNotExist();
    curate(resumed, "--config", smallShards().toString());
    for (Path file : files(clean)) {
      Path other = resumed.resolve(clean.relativize(file));
      assertThat(Files.readAllBytes(other)).as(file.toString()).isEqualTo(Files.readAllBytes(file));
    }
    assertThat(files(resumed)).hasSameSizeAs(files(clean));
    assertThat(ScoreTable.read(table)).hasSize(150);
  }

  private static Path smallShards() throws IOException {
    Path config = dir.resolve("small-shards.yaml");
    Files.writeString(config, "output: {samplesPerShard: 100}\n");
    return config;
  }

  private static List<Path> files(Path root) throws IOException {
    try (Stream<Path> walk = Files.walk(root)) {
      return walk.filter(Files::isRegularFile)
          .filter(p -> !p.toString().endsWith(AtomicFiles.IN_PROGRESS_SUFFIX))
          .sorted()
          .toList();
    }
  }

  @Test
  void reshardingResizesLargerImagesToTheShorterSideKeepingTheirShape() throws IOException {
    Path config = dir.resolve("resize.yaml");
    Files.writeString(config, "output: {resizeShorterSide: 100}\n");
    Path out = dir.resolve("resized");
    curate(out, "--config", config.toString());
    Map<String, int[]> original = new HashMap<>();
    try (WebDatasetReader reader =
        WebDatasetReader.open(ShardList.resolve(raw, "."), ReadOptions.anySample())) {
      while (reader.hasNext()) {
        Sample sample = reader.next();
        try {
          var image = javax.imageio.ImageIO.read(sample.openImage().orElseThrow());
          if (image != null) {
            original.put(sample.key(), new int[] {image.getWidth(), image.getHeight()});
          }
        } catch (IOException | java.util.NoSuchElementException e) {
          // corrupt or missing images are rejected by the filters; they never reach the output
        }
      }
    }
    int resized = 0;
    int count = 0;
    try (WebDatasetReader reader =
        WebDatasetReader.open(
            ShardList.resolve(out.resolve(Curator.SHARDS), "."), ReadOptions.defaults())) {
      while (reader.hasNext()) {
        Sample sample = reader.next();
        count++;
        var image = javax.imageio.ImageIO.read(sample.openImage().orElseThrow());
        int[] before = original.get(sample.key());
        int shorter = Math.min(before[0], before[1]);
        if (shorter <= 100) {
          assertThat(new int[] {image.getWidth(), image.getHeight()}).containsExactly(before);
          continue;
        }
        resized++;
        assertThat(sample.imageExtension()).contains("jpg");
        assertThat(Math.min(image.getWidth(), image.getHeight())).isEqualTo(100);
        double aspect = (double) before[0] / before[1];
        assertThat((double) image.getWidth() / image.getHeight())
            .isCloseTo(aspect, org.assertj.core.data.Offset.offset(0.02 * aspect));
        assertThat(sample.caption()).isPresent();
      }
    }
    assertThat(count).isEqualTo(keptKeys(out).size());
    assertThat(resized).isGreaterThan(count / 2);
  }

  /**
   * The operator hands the worker CurationJob.spec's curation part as it is: output.path is the
   * output directory unless --out says otherwise.
   */
  @Test
  void theConfigsOutputPathIsTheOutputDirectoryWithoutOut() throws IOException {
    Path fromConfig = dir.resolve("from-config");
    Path config = dir.resolve("with-output.yaml");
    Files.writeString(
        config,
        "input: '"
            + raw
            + "'\noutput: {path: '"
            + fromConfig
            + "', samplesPerShard: 100}\nparallelism: 2\n");
    Outcome outcome = Cli.run("curate", "--config", config.toString(), "--phase", "score");
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    assertThat(outcome.out()).contains(fromConfig.resolve(Curator.STATS).toString());
    try (Stream<Path> tables = Files.list(fromConfig.resolve(Curator.SCORES))) {
      assertThat(tables.filter(table -> table.toString().endsWith(".parquet"))).hasSize(4);
    }

    Path fromCommandLine = dir.resolve("from-command-line");
    Outcome overridden =
        Cli.run(
            "curate",
            "--config",
            config.toString(),
            "--out",
            fromCommandLine.toString(),
            "--phase",
            "score");
    assertThat(overridden.exitCode()).as(overridden.err()).isZero();
    assertThat(fromCommandLine.resolve(Curator.SCORES)).isDirectory();
  }

  @Test
  void badConfigsAndMissingInputsAreOneLineErrors() throws IOException {
    Path config = dir.resolve("bad.yaml");
    Files.writeString(config, "filters:\n  basic: {minSide: big}\n");
    Outcome bad =
        Cli.run(
            "curate",
            "--input",
            raw.toString(),
            "--out",
            dir.resolve("x").toString(),
            "--config",
            config.toString());
    assertThat(bad.exitCode()).isEqualTo(CuratorMain.USAGE_ERROR);
    assertThat(bad.err()).contains("filters.basic.minSide must be an integer");

    Files.writeString(config, "select: {any: [{score: clip}]}\n");
    Outcome rule =
        Cli.run(
            "curate",
            "--input",
            raw.toString(),
            "--out",
            dir.resolve("y").toString(),
            "--config",
            config.toString());
    assertThat(rule.err()).contains("select.any[0] needs atLeast, atMost or topFraction");

    Files.writeString(config, "filters: {colour: true}\n");
    Outcome unknown =
        Cli.run(
            "curate",
            "--input",
            raw.toString(),
            "--out",
            dir.resolve("z").toString(),
            "--config",
            config.toString());
    assertThat(unknown.err()).contains("filters: unknown field 'colour'");

    Outcome noOut = Cli.run("curate", "--input", raw.toString());
    assertThat(noOut.exitCode()).isEqualTo(CuratorMain.USAGE_ERROR);
    assertThat(noOut.err())
        .contains("no output directory: give --out or 'output.path' in the config");

    Outcome select =
        Cli.run(
            "curate",
            "--input",
            raw.toString(),
            "--out",
            dir.resolve("w").toString(),
            "--phase",
            "select");
    assertThat(select.exitCode()).isEqualTo(CuratorMain.USAGE_ERROR);
    assertThat(select.err()).contains("the score phase is not complete: 4 of 4 tables missing");
  }
}
