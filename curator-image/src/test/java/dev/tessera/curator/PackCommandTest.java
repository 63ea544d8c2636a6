package dev.tessera.curator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.curator.Cli.Outcome;
import dev.tessera.data.io.AtomicFiles;
import dev.tessera.data.manifest.ShardManifest;
import dev.tessera.data.packed.PackedLayout;
import dev.tessera.data.packed.PackedSample;
import dev.tessera.data.packed.PackedSequence;
import dev.tessera.data.packed.PackedShards;
import dev.tessera.data.packing.BinPacker;
import dev.tessera.data.packing.Packing;
import dev.tessera.data.packing.PackingAlgorithm;
import dev.tessera.data.testing.Python;
import dev.tessera.data.webdataset.ReadOptions;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.ShardList;
import dev.tessera.data.webdataset.WebDatasetReader;
import dev.tessera.engine.DType;
import dev.tessera.model.io.SafetensorsWriter;
import dev.tessera.model.text.CaptionLayout;
import dev.tessera.model.text.QwenTokenizer;
import dev.tessera.model.text.QwenTokenizerFiles;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pack command end to end on synthetic shards with the real Qwen tokenizer. */
class PackCommandTest {
  static final int SEQ_LEN = 600;
  static final int IMAGE_TOKENS = 36;
  private static final ObjectMapper JSON = new ObjectMapper();

  static Path raw;
  static Path tokenizer;
  private static Path shared;

  @TempDir Path tmp;

  static Outcome run(String... args) {
    return Cli.run(args);
  }

  /**
   * Three small synthetic shards with every kind of defect, made once per test JVM (and removed
   * when it exits).
   */
  @BeforeAll
  static synchronized void synthesise() throws IOException {
    if (raw != null) {
      return;
    }
    tokenizer = QwenTokenizerFiles.tokenizerJson();
    shared = Files.createTempDirectory("pack-fixture");
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    AtomicFiles.deleteRecursively(shared);
                  } catch (IOException e) {
                    // A temporary directory left behind is harmless.
                  }
                }));
    Path dir = shared.resolve("raw");
    Outcome synth =
        run(
            "synth",
            "--out",
            dir.toString(),
            "--shards",
            "3",
            "--samples-per-shard",
            "120",
            "--seed",
            "11",
            "--defects",
            "0.2");
    assertThat(synth.exitCode()).as(synth.err()).isZero();
    raw = dir;
  }

  static List<String> packArgs(Path out, String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "pack",
                "--input",
                raw.toString(),
                "--out",
                out.toString(),
                "--tokenizer",
                tokenizer.toString(),
                "--seq-len",
                String.valueOf(SEQ_LEN),
                "--image-tokens",
                String.valueOf(IMAGE_TOKENS),
                "--image-size",
                "24",
                "--sequences-per-shard",
                "7"));
    args.addAll(List.of(extra));
    return args;
  }

  static Outcome pack(Path out, String... extra) {
    return run(packArgs(out, extra).toArray(String[]::new));
  }

  /** Every file under {@code dir} by relative name, with its bytes. */
  static Map<String, byte[]> contents(Path dir) throws IOException {
    Map<String, byte[]> files = new HashMap<>();
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path path : paths.filter(Files::isRegularFile).toList()) {
        files.put(dir.relativize(path).toString(), Files.readAllBytes(path));
      }
    }
    return files;
  }

  static void assertSameFiles(Path actual, Path expected) throws IOException {
    Map<String, byte[]> want = contents(expected);
    Map<String, byte[]> got = contents(actual);
    assertThat(got.keySet()).containsExactlyInAnyOrderElementsOf(want.keySet());
    for (Map.Entry<String, byte[]> file : want.entrySet()) {
      assertThat(got.get(file.getKey())).as(file.getKey()).isEqualTo(file.getValue());
    }
  }

  @Test
  void packsEverySampleOnceOrCountsItDropped() throws IOException {
    Path out = tmp.resolve("packed");
    Outcome outcome = pack(out, "--workers", "2");
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    assertThat(outcome.out()).contains("sequences").contains("stats.json");
    assertThat(out.resolve(".work")).doesNotExist();

    // What the input holds, by key: captions and the defect the generator injected.
    Map<String, String> captions = new HashMap<>();
    Map<String, String> defects = new HashMap<>();
    try (WebDatasetReader reader =
        WebDatasetReader.open(ShardList.resolve(Path.of(""), raw.toString()), anySample())) {
      while (reader.hasNext()) {
        Sample sample = reader.next();
        String key = sample.shard() + "/" + sample.key();
        captions.put(key, sample.caption().orElse(null));
        JsonNode meta = JSON.readTree(sample.json().orElseThrow());
        defects.put(key, meta.path("synthetic").path("defect").asText("none"));
      }
    }

    JsonNode stats = JSON.readTree(out.resolve("stats.json").toFile());
    Set<String> packed = new HashSet<>();
    List<Integer> lengths = new ArrayList<>();
    try (PackedShards shards = PackedShards.open(out);
        QwenTokenizer qwen = QwenTokenizer.load(tokenizer)) {
      CaptionLayout layout = new CaptionLayout(qwen);
      PackedLayout packedLayout = shards.layout();
      assertThat(packedLayout.sequenceLength()).isEqualTo(SEQ_LEN);
      assertThat(packedLayout.imageTokens()).isEqualTo(IMAGE_TOKENS);
      assertThat(packedLayout.padTokenId()).isEqualTo(qwen.specialId(QwenTokenizer.END_OF_TEXT));
      assertThat(shards.verify()).isEmpty();
      for (long s = 0; s < shards.sequenceCount(); s++) {
        PackedSequence sequence = shards.read(s);
        assertThat(sequence.problems(packedLayout)).isEmpty();
        assertThat(sequence.length()).isLessThanOrEqualTo(SEQ_LEN);
        int previous = Integer.MAX_VALUE;
        for (int i = 0; i < sequence.samples().size(); i++) {
          PackedSample sample = sequence.samples().get(i);
          assertThat(packed.add(sample.key())).as("packed once: " + sample.key()).isTrue();
          lengths.add(sample.length());
          // First-fit decreasing places samples in descending length.
          assertThat(sample.length()).isLessThanOrEqualTo(previous);
          previous = sample.length();
          // The ids are the caption's, in Open-Qwen2VL's layout.
          int[] expected = layout.caption(captions.get(sample.key())).ids();
          int[] visualExpanded = expand(expected);
          int[] actual = new int[sample.length()];
          System.arraycopy(sequence.tokens(), sample.offset(), actual, 0, sample.length());
          assertThat(actual).as(sample.key()).isEqualTo(visualExpanded);
          assertThat(sample.uid()).matches("[0-9a-f]{32}");
          var image = ImageIO.read(new ByteArrayInputStream(bytes(sequence, i)));
          assertThat(image.getWidth()).isEqualTo(24);
          assertThat(image.getHeight()).isEqualTo(24);
        }
      }
    }

    // Dropped: exactly the undecodable images and the empty captions.
    Set<String> expectedDropped = new HashSet<>();
    defects.forEach(
        (key, defect) -> {
          if (defect.equals("corrupt_image") || defect.equals("empty_caption")) {
            expectedDropped.add(key);
          }
        });
    Set<String> missing = new HashSet<>(captions.keySet());
    missing.removeAll(packed);
    assertThat(missing).isEqualTo(expectedDropped);
    assertThat(stats.path("input_samples").asLong()).isEqualTo(360);
    assertThat(stats.path("samples").asLong()).isEqualTo(packed.size());
    assertThat(stats.path("dropped").asLong()).isEqualTo(expectedDropped.size()).isPositive();
    assertThat(stats.path("dropped_by_reason").path("bad_image").asLong())
        .isEqualTo(defects.values().stream().filter("corrupt_image"::equals).count());

    // The sequences are exactly the global first-fit-decreasing packing of these lengths.
    long tokens = lengths.stream().mapToLong(Integer::longValue).sum();
    assertThat(stats.path("tokens").asLong()).isEqualTo(tokens);
    long lowerBound = (tokens + SEQ_LEN - 1) / SEQ_LEN;
    assertThat(stats.path("lower_bound_sequences").asLong()).isEqualTo(lowerBound);
    long sequences = stats.path("sequences").asLong();
    assertThat(sequences).isGreaterThanOrEqualTo(lowerBound);
    assertThat(stats.path("fill_ratio").asDouble())
        .isCloseTo(
            (double) tokens / (sequences * SEQ_LEN), org.assertj.core.data.Offset.offset(1e-6));
    Packing reference =
        BinPacker.pack(
            lengths.stream().mapToInt(Integer::intValue).toArray(),
            SEQ_LEN,
            PackingAlgorithm.FIRST_FIT_DECREASING);
    assertThat(sequences).isEqualTo(reference.binCount());
    assertThat(ShardManifest.read(out).spec()).containsEntry("algorithm", "ffd");
  }

  private static int[] expand(int[] ids) {
    int[] out = new int[ids.length - 1 + IMAGE_TOKENS];
    int at = 0;
    for (int id : ids) {
      if (id == CaptionLayout.IMAGE) {
        for (int k = 0; k < IMAGE_TOKENS; k++) {
          out[at++] = id;
        }
      } else {
        out[at++] = id;
      }
    }
    return out;
  }

  private static byte[] bytes(PackedSequence sequence, int sample) {
    var buffer = sequence.images().get(sample).duplicate();
    byte[] copy = new byte[buffer.remaining()];
    buffer.get(copy);
    return copy;
  }

  private static ReadOptions anySample() {
    return ReadOptions.anySample();
  }

  @Test
  void outputIsTheSameWhateverTheWorkerCount() throws IOException {
    Path one = tmp.resolve("one");
    Path two = tmp.resolve("two");
    Path progress = tmp.resolve("progress.json");
    assertThat(pack(one, "--workers", "1", "--progress-file", progress.toString()).exitCode())
        .isZero();
    JsonNode report = JSON.readTree(progress.toFile());
    assertThat(report.path("kind").asText()).isEqualTo("PackJob");
    assertThat(report.path("phase").asText()).isEqualTo("Succeeded");
    assertThat(report.path("progress").path("sequences").asLong())
        .isEqualTo(JSON.readTree(one.resolve("stats.json").toFile()).path("sequences").asLong());
    assertThat(pack(two, "--workers", "3").exitCode()).isZero();
    assertSameFiles(two, one);
  }

  /**
   * Several inputs pack together, their shards in the order given: a set split over two inputs
   * packs exactly as one input naming the same shards. A shard two inputs name is refused.
   */
  @Test
  void severalInputsPackTogether() throws IOException {
    Path whole = tmp.resolve("whole");
    assertThat(pack(whole).exitCode()).isZero();
    Path split = tmp.resolve("split");
    List<String> args = packArgs(split);
    args.set(args.indexOf("--input") + 1, raw.resolve("00000.tar").toString());
    args.addAll(List.of("--input", raw + "/{00001..00002}.tar"));
    Outcome together = run(args.toArray(String[]::new));
    assertThat(together.exitCode()).as(together.err()).isZero();
    assertSameFiles(split, whole);

    List<String> twice = packArgs(tmp.resolve("twice"));
    twice.addAll(List.of("--input", raw + "/{00001..00002}.tar"));
    Outcome refused = run(twice.toArray(String[]::new));
    assertThat(refused.exitCode()).isEqualTo(CuratorMain.USAGE_ERROR);
    assertThat(refused.err())
        .contains(
            "00001.tar is named by two inputs, '" + raw + "' and '" + raw + "/{00001..00002}.tar'");
  }

  /** The keys of every packed sample, in order, and each sequence's keys as a set. */
  private static List<String> packedKeys(Path dir, List<Set<String>> perSequence)
      throws IOException {
    List<String> keys = new ArrayList<>();
    try (PackedShards shards = PackedShards.open(dir)) {
      for (long s = 0; s < shards.sequenceCount(); s++) {
        Set<String> inSequence = new HashSet<>();
        for (PackedSample sample : shards.read(s).samples()) {
          keys.add(sample.key());
          assertThat(inSequence.add(sample.key()))
              .as("a sample's copies share sequence " + s + ": " + sample.key())
              .isTrue();
        }
        perSequence.add(inSequence);
      }
    }
    return keys;
  }

  /**
   * {@code --repeat} mixes inputs: 2 packs every sample of its input twice, never two copies in one
   * sequence; 0.5 packs a fixed half of each shard, the same half whatever the other inputs. The
   * statistics account for every sample.
   */
  @Test
  void repeatedInputsArePackedThatManyTimesAndCopiesNeverShareASequence() throws IOException {
    Path whole = tmp.resolve("whole");
    assertThat(pack(whole).exitCode()).isZero();
    Map<String, Long> kept = new HashMap<>();
    for (String key : packedKeys(whole, new ArrayList<>())) {
      kept.merge(key.substring(0, key.indexOf('/')), 1L, Long::sum);
    }
    assertThat(kept).containsOnlyKeys("00000.tar", "00001.tar", "00002.tar");

    Path mixed = tmp.resolve("mixed");
    List<String> args = packArgs(mixed);
    args.set(args.indexOf("--input") + 1, raw.resolve("00000.tar").toString());
    args.addAll(
        args.indexOf("--input") + 2,
        List.of("--repeat", "2", "--input", raw + "/{00001..00002}.tar", "--repeat", "0.5"));
    Outcome outcome = run(args.toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    assertThat(outcome.out()).contains("not chosen and " + kept.get("00000.tar") + " repeated");

    List<String> keys = packedKeys(mixed, new ArrayList<>());
    Map<String, Long> copies = new HashMap<>();
    keys.forEach(key -> copies.merge(key, 1L, Long::sum));
    Map<String, Long> perShard = new HashMap<>();
    for (Map.Entry<String, Long> key : copies.entrySet()) {
      String shard = key.getKey().substring(0, key.getKey().indexOf('/'));
      assertThat(key.getValue()).as(key.getKey()).isEqualTo(shard.equals("00000.tar") ? 2 : 1);
      perShard.merge(shard, 1L, Long::sum);
    }
    assertThat(perShard.get("00000.tar")).isEqualTo(kept.get("00000.tar"));
    for (String shard : List.of("00001.tar", "00002.tar")) {
      assertThat(perShard.get(shard)).as(shard).isEqualTo(Math.round(kept.get(shard) * 0.5));
    }

    JsonNode stats = JSON.readTree(mixed.resolve("stats.json").toFile());
    long notChosen =
        kept.get("00001.tar")
            + kept.get("00002.tar")
            - perShard.get("00001.tar")
            - perShard.get("00002.tar");
    assertThat(stats.path("not_chosen").asLong()).isEqualTo(notChosen);
    assertThat(stats.path("repeated").asLong()).isEqualTo(kept.get("00000.tar"));
    assertThat(stats.path("samples").asLong()).isEqualTo(keys.size());
    assertThat(stats.path("samples").asLong())
        .isEqualTo(
            stats.path("input_samples").asLong()
                - stats.path("dropped").asLong()
                - notChosen
                + kept.get("00000.tar"));
    JsonNode manifest = JSON.readTree(mixed.resolve("manifest.json").toFile());
    assertThat(manifest.path("spec").path("inputs").get(0).path("repeat").asDouble()).isEqualTo(2);
    assertThat(manifest.path("spec").path("inputs").get(1).path("repeat").asDouble())
        .isEqualTo(0.5);

    // The half of a shard does not depend on the other inputs, nor on the worker count.
    Path alone = tmp.resolve("alone");
    List<String> aloneArgs = packArgs(alone, "--workers", "1");
    aloneArgs.set(aloneArgs.indexOf("--input") + 1, raw.resolve("00001.tar").toString());
    aloneArgs.addAll(aloneArgs.indexOf("--input") + 2, List.of("--repeat", "0.5"));
    assertThat(run(aloneArgs.toArray(String[]::new)).exitCode()).isZero();
    assertThat(new HashSet<>(packedKeys(alone, new ArrayList<>())))
        .isEqualTo(
            copies.keySet().stream()
                .filter(key -> key.startsWith("00001.tar/"))
                .collect(Collectors.toSet()));

    // Packing again gives the same bytes.
    Path again = tmp.resolve("again");
    args.set(args.indexOf("--out") + 1, again.toString());
    args.addAll(List.of("--workers", "1"));
    assertThat(run(args.toArray(String[]::new)).exitCode()).isZero();
    assertSameFiles(again, mixed);
  }

  @Test
  void repeatsOutsideTheirRangeAreRefused() {
    for (String repeat : List.of("0", "-1", "100.5", "NaN")) {
      Outcome refused = pack(tmp.resolve("r" + repeat), "--repeat", repeat);
      assertThat(refused.exitCode()).as(repeat).isEqualTo(CuratorMain.USAGE_ERROR);
      assertThat(refused.err())
          .as(repeat)
          .contains("--repeat must be more than 0 and at most 100, got");
    }
    Outcome orphan = pack(tmp.resolve("orphan"), "--repeat", "2", "--repeat", "3");
    assertThat(orphan.exitCode()).isEqualTo(CuratorMain.USAGE_ERROR);
    assertThat(orphan.err()).contains("--input");
  }

  @Test
  void overlongCaptionsAreTruncatedToEndOnEosOrDropped() throws IOException {
    // 20-token sequences with 4 image tokens leave room for 16 text tokens: the longer synthetic
    // captions no longer fit.
    Path truncated = tmp.resolve("truncated");
    Outcome cut = packShort(truncated, "truncate");
    assertThat(cut.exitCode()).as(cut.err()).isZero();
    JsonNode stats = JSON.readTree(truncated.resolve("stats.json").toFile());
    long count = stats.path("truncated").asLong();
    assertThat(count).isPositive();
    int eos;
    try (QwenTokenizer qwen = QwenTokenizer.load(tokenizer)) {
      eos = qwen.specialId(QwenTokenizer.IM_END);
    }
    long seen = 0;
    try (PackedShards shards = PackedShards.open(truncated)) {
      for (long s = 0; s < shards.sequenceCount(); s++) {
        PackedSequence sequence = shards.read(s);
        assertThat(sequence.problems(shards.layout())).isEmpty();
        for (PackedSample sample : sequence.samples()) {
          assertThat(sequence.tokens()[sample.offset() + sample.length() - 1]).isEqualTo(eos);
          if (sample.truncated()) {
            seen++;
            assertThat(sample.length()).isEqualTo(20);
          }
        }
      }
    }
    assertThat(seen).isEqualTo(count);

    Path dropped = tmp.resolve("dropped");
    Outcome drop = packShort(dropped, "drop");
    assertThat(drop.exitCode()).as(drop.err()).isZero();
    JsonNode dropStats = JSON.readTree(dropped.resolve("stats.json").toFile());
    assertThat(dropStats.path("truncated").asLong()).isZero();
    // Exactly the truncated samples go; too-long samples with bad images count as too long here.
    assertThat(dropStats.path("samples").asLong())
        .isEqualTo(stats.path("samples").asLong() - count);
    assertThat(dropStats.path("dropped_by_reason").path("too_long").asLong())
        .isGreaterThanOrEqualTo(count);
  }

  /** Packs into 20-token sequences with 4 image tokens, keeping the source images. */
  private static Outcome packShort(Path out, String overlong) {
    return run(
        "pack",
        "--input",
        raw.toString(),
        "--out",
        out.toString(),
        "--tokenizer",
        tokenizer.toString(),
        "--seq-len",
        "20",
        "--image-tokens",
        "4",
        "--image-size",
        "0",
        "--overlong",
        overlong);
  }

  @Test
  void bestFitAndExactFillAreAvailable() throws IOException {
    Path ffd = tmp.resolve("ffd");
    assertThat(pack(ffd).exitCode()).isZero();
    long ffdSequences =
        JSON.readTree(ffd.resolve("stats.json").toFile()).path("sequences").asLong();
    for (String algorithm : List.of("bfd", "fill")) {
      Path out = tmp.resolve(algorithm);
      Outcome outcome = pack(out, "--algorithm", algorithm);
      assertThat(outcome.exitCode()).as(outcome.err()).isZero();
      JsonNode stats = JSON.readTree(out.resolve("stats.json").toFile());
      assertThat(stats.path("algorithm").asText()).isEqualTo(algorithm);
      assertThat(stats.path("samples").asLong())
          .isEqualTo(JSON.readTree(ffd.resolve("stats.json").toFile()).path("samples").asLong());
      assertThat(stats.path("sequences").asLong())
          .isGreaterThanOrEqualTo(stats.path("lower_bound_sequences").asLong())
          .isLessThanOrEqualTo(ffdSequences);
      try (PackedShards shards = PackedShards.open(out)) {
        for (long s = 0; s < shards.sequenceCount(); s++) {
          assertThat(shards.read(s).problems(shards.layout())).isEmpty();
        }
      }
    }
  }

  @Test
  void refusesBadOptionsAndOccupiedOutputsWithClearMessages() throws IOException {
    Outcome badLength =
        run(
            "pack",
            "--input",
            raw.toString(),
            "--out",
            tmp.resolve("a").toString(),
            "--tokenizer",
            tokenizer.toString(),
            "--seq-len",
            "30",
            "--image-tokens",
            "36");
    assertThat(badLength.exitCode()).isEqualTo(CuratorMain.USAGE_ERROR);
    assertThat(badLength.err()).contains("--seq-len 30 cannot hold one sample of 36 image tokens");

    Outcome badAlgorithm = pack(tmp.resolve("b"), "--algorithm", "next-fit");
    assertThat(badAlgorithm.exitCode()).isEqualTo(CuratorMain.USAGE_ERROR);
    assertThat(badAlgorithm.err()).contains("next-fit");

    Outcome noTokenizer =
        run(
            "pack",
            "--input",
            raw.toString(),
            "--out",
            tmp.resolve("c").toString(),
            "--tokenizer",
            tmp.resolve("missing.json").toString());
    assertThat(noTokenizer.exitCode()).isEqualTo(CuratorMain.USAGE_ERROR);
    assertThat(noTokenizer.err()).contains("no tokenizer at");

    Path occupied = Files.createDirectories(tmp.resolve("occupied"));
    Files.writeString(occupied.resolve("notes.txt"), "keep me");
    Outcome notEmpty = pack(occupied);
    assertThat(notEmpty.exitCode()).isEqualTo(CuratorMain.USAGE_ERROR);
    assertThat(notEmpty.err()).contains("not empty");
    assertThat(occupied.resolve("notes.txt")).hasContent("keep me");

    Path done = tmp.resolve("done");
    assertThat(pack(done).exitCode()).isZero();
    Outcome again = pack(done);
    assertThat(again.exitCode()).isEqualTo(CuratorMain.USAGE_ERROR);
    assertThat(again.err()).contains("already holds a finished tessera-packed set");
    Outcome accepted = pack(done, "--resume");
    assertThat(accepted.exitCode()).as(accepted.err()).isZero();
    assertThat(accepted.err()).contains("already complete");
    Outcome otherOptions = pack(done, "--resume", "--jpeg-quality", "80");
    assertThat(otherOptions.exitCode()).isEqualTo(CuratorMain.USAGE_ERROR);
    assertThat(otherOptions.err()).contains("differs in jpegQuality");
  }

  @Test
  void inspectPrintsAPackedSetAndOneJsonLinePerSequence() throws IOException {
    Path out = tmp.resolve("packed");
    assertThat(pack(out).exitCode()).isZero();
    Outcome summary = run("inspect", out.toString());
    assertThat(summary.exitCode()).as(summary.out() + summary.err()).isZero();
    assertThat(summary.out())
        .contains("packed set:")
        .contains("checksums match")
        .contains("problems: none");

    Outcome json = run("inspect", out.toString(), "--json");
    assertThat(json.exitCode()).isZero();
    List<String> lines = json.out().strip().lines().toList();
    JsonNode stats = JSON.readTree(out.resolve("stats.json").toFile());
    assertThat(lines).hasSize(stats.path("sequences").asInt());
    long samples = 0;
    for (String line : lines) {
      JsonNode node = JSON.readTree(line);
      assertThat(node.path("tokens").asInt()).isBetween(1, SEQ_LEN);
      int sum = 0;
      for (JsonNode sample : node.path("samples")) {
        sum += sample.path("length").asInt();
        samples++;
      }
      assertThat(sum).isEqualTo(node.path("tokens").asInt());
    }
    assertThat(samples).isEqualTo(stats.path("samples").asLong());

    // A damaged shard is found and named.
    Path shard = out.resolve("00001.tar");
    byte[] bytes = Files.readAllBytes(shard);
    bytes[700] ^= 0x01;
    Files.write(shard, bytes);
    Outcome damaged = run("inspect", out.toString());
    assertThat(damaged.exitCode()).isEqualTo(InspectCommand.PROBLEMS_FOUND);
    assertThat(damaged.out()).contains("00001.tar: sha256");
  }

  /** The standard-library Python reader sees what inspect sees, and finds no problem. */
  @Test
  void pythonReaderAgreesWithInspectOnAPackedSet() throws Exception {
    Path out = tmp.resolve("packed");
    assertThat(pack(out, "--algorithm", "fill").exitCode()).isZero();
    Outcome json = run("inspect", out.toString(), "--json");
    assertThat(json.exitCode()).isZero();
    String python = Python.with("tarfile", "python3");
    Path script = Path.of("../scripts/packed_reader.py").toAbsolutePath().normalize();
    String read = Python.run(List.of(python, script.toString(), out.toString(), "--check"));
    assertThat(read.strip().lines()).containsExactlyElementsOf(json.out().strip().lines().toList());
  }

  /** inspect describes a Hugging Face model directory: tensors, parameters, dtypes. */
  @Test
  void inspectDescribesAModelDirectory() throws IOException {
    Path model = Files.createDirectories(tmp.resolve("model"));
    Files.writeString(
        model.resolve("config.json"),
        "{\"model_type\": \"qwen2\", \"architectures\": [\"Qwen2ForCausalLM\"]}");
    new SafetensorsWriter()
        .add("model.embed_tokens.weight", DType.BF16, new int[] {10, 4}, new float[40])
        .add("model.norm.weight", DType.F32, new int[] {4}, new float[] {1, 2, 3, 4})
        .write(model.resolve("model.safetensors"));
    Outcome outcome = run("inspect", model.toString());
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    assertThat(outcome.out())
        .contains("model_type qwen2")
        .contains("2 tensors")
        .contains("44 parameters")
        .contains("BF16=40")
        .contains("F32=4");
  }
}
