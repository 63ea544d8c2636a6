package dev.tessera.data.synth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.data.manifest.ShardManifest;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SynthGeneratorTest {
  private static final int SHARDS = 3;
  private static final int PER_SHARD = 20;

  @TempDir static Path tmp;
  private static Path clean;
  private static Path defective;
  private static SynthResult defectiveResult;

  @BeforeAll
  static void generate() throws IOException {
    clean = tmp.resolve("clean");
    SynthGenerator.generate(
        new SynthOptions(clean, SHARDS, PER_SHARD, 7, 0.0, 2), SynthProgress.NONE);
    defective = tmp.resolve("defective");
    defectiveResult =
        SynthGenerator.generate(new SynthOptions(defective, 4, 60, 11, 1.0, 2), SynthProgress.NONE);
  }

  @Test
  void writesExactlyShardsTimesSamplesInFiveDigitShards() throws IOException {
    assertThat(ShardContents.shardFiles(clean))
        .extracting(p -> p.getFileName().toString())
        .containsExactly("00000.tar", "00001.tar", "00002.tar");
    try (var files = Files.list(clean)) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder("00000.tar", "00001.tar", "00002.tar", "manifest.json");
    }
    List<ShardContents.Read> samples = ShardContents.read(clean);
    assertThat(samples).hasSize(SHARDS * PER_SHARD);
    // img2dataset keys: shard index in 5 digits, then the in-shard index in ceil(log10(20)) = 2.
    assertThat(samples.get(0).key()).isEqualTo("0000000");
    assertThat(samples.get(PER_SHARD + 3).key()).isEqualTo("0000103");
    assertThat(samples.get(samples.size() - 1).key()).isEqualTo("0000219");
    assertThat(samples.get(PER_SHARD).sample().shard()).isEqualTo("00001.tar");

    ShardManifest manifest = ShardManifest.read(clean);
    assertThat(manifest.samples()).isEqualTo(SHARDS * PER_SHARD);
    assertThat(manifest.shardCount()).isEqualTo(SHARDS);
    assertThat(manifest.shards()).allSatisfy(s -> assertThat(s.samples()).isEqualTo(PER_SHARD));
    assertThat(manifest.verify(clean)).isEmpty();
    assertThat(manifest.spec())
        .containsEntry("command", "synth")
        .containsEntry("seed", 7)
        .containsEntry("shards", SHARDS)
        .containsEntry("samplesPerShard", PER_SHARD)
        .containsEntry("defects", 0.0)
        .containsEntry("generator", SynthGenerator.VERSION);
  }

  @Test
  void sameSeedGivesSameBytesWhateverTheThreadCount() throws IOException {
    Path again = tmp.resolve("again-one-thread");
    SynthGenerator.generate(
        new SynthOptions(again, SHARDS, PER_SHARD, 7, 0.0, 1), SynthProgress.NONE);
    for (String name : List.of("00000.tar", "00001.tar", "00002.tar", "manifest.json")) {
      assertThat(Files.readAllBytes(again.resolve(name)))
          .as(name)
          .isEqualTo(Files.readAllBytes(clean.resolve(name)));
    }
    Path defectiveAgain = tmp.resolve("defective-three-threads");
    SynthGenerator.generate(
        new SynthOptions(defectiveAgain, 4, 60, 11, 1.0, 3), SynthProgress.NONE);
    assertThat(Files.readAllBytes(defectiveAgain.resolve("manifest.json")))
        .isEqualTo(Files.readAllBytes(defective.resolve("manifest.json")));
  }

  @Test
  void differentSeedsGiveDifferentData() throws IOException {
    Path other = tmp.resolve("other-seed");
    SynthGenerator.generate(
        new SynthOptions(other, SHARDS, PER_SHARD, 8, 0.0, 2), SynthProgress.NONE);
    assertThat(Files.readAllBytes(other.resolve("00000.tar")))
        .isNotEqualTo(Files.readAllBytes(clean.resolve("00000.tar")));
    Set<String> captions =
        ShardContents.read(clean).stream()
            .map(ShardContents.Read::caption)
            .collect(Collectors.toSet());
    long shared =
        ShardContents.read(other).stream().filter(r -> captions.contains(r.caption())).count();
    assertThat(shared).isLessThan(PER_SHARD);
  }

  @Test
  void cleanSamplesLookLikeWebImagesAndTheirJsonMatches() throws IOException {
    Set<String> uids = new HashSet<>();
    Set<String> extensions = new HashSet<>();
    for (ShardContents.Read read : ShardContents.read(clean)) {
      assertThat(read.defect()).as(read.key()).isNull();
      BufferedImage image = read.decode();
      assertThat(image).as(read.key()).isNotNull();
      int shortSide = Math.min(image.getWidth(), image.getHeight());
      int longSide = Math.max(image.getWidth(), image.getHeight());
      assertThat(shortSide).as(read.key()).isBetween(64, 1024);
      assertThat((double) longSide / shortSide).as(read.key()).isLessThanOrEqualTo(3.0);

      JsonNode json = read.json();
      assertThat(json.path("key").asText()).isEqualTo(read.key());
      assertThat(json.path("caption").asText()).isEqualTo(read.caption()).isNotBlank();
      assertThat(json.path("width").asInt()).isEqualTo(image.getWidth());
      assertThat(json.path("height").asInt()).isEqualTo(image.getHeight());
      assertThat(json.path("uid").asText()).matches("[0-9a-f]{32}");
      assertThat(json.path("synthetic").path("scene").path("objects").size()).isBetween(1, 3);
      uids.add(json.path("uid").asText());
      extensions.add(read.sample().imageExtension().orElseThrow());
    }
    assertThat(uids).hasSize(SHARDS * PER_SHARD);
    assertThat(extensions).contains("jpg");
  }

  @Test
  void captionsNameTheColoursAndShapesOfTheScene() throws IOException {
    for (ShardContents.Read read : ShardContents.read(clean)) {
      for (JsonNode object : read.json().path("synthetic").path("scene").path("objects")) {
        assertThat(read.caption().toLowerCase(Locale.ROOT))
            .as(read.key())
            .contains(object.path("colour").asText())
            .contains(object.path("shape").asText());
      }
    }
  }

  @Test
  void everyDefectAppearsWithItsPropertiesAtRateOne() throws IOException {
    List<ShardContents.Read> samples = ShardContents.read(defective);
    Map<String, ShardContents.Read> byKey =
        samples.stream().collect(Collectors.toMap(ShardContents.Read::key, Function.identity()));
    Map<String, Integer> seen = new HashMap<>();
    for (ShardContents.Read read : samples) {
      String defect = read.defect();
      if (defect == null) {
        continue;
      }
      seen.merge(defect, 1, Integer::sum);
      JsonNode details = read.json().path("synthetic").path("defectDetail");
      BufferedImage image = defect.equals("corrupt_image") ? null : read.decode();
      switch (Defect.fromId(defect)) {
        case CORRUPT_IMAGE -> {
          assertThat(read.decode()).as(read.key()).isNull();
          byte[] bytes = read.image();
          assertThat(bytes[0] == (byte) 0xFF || bytes[0] == (byte) 0x89).isTrue();
        }
        case BLANK_IMAGE -> assertThat(distinctColours(image)).as(read.key()).isEqualTo(1);
        case TINY_IMAGE -> assertThat(Math.min(image.getWidth(), image.getHeight())).isLessThan(64);
        case EXTREME_ASPECT -> {
          double aspect =
              (double) Math.max(image.getWidth(), image.getHeight())
                  / Math.min(image.getWidth(), image.getHeight());
          assertThat(aspect).as(read.key()).isGreaterThan(3.0).isLessThanOrEqualTo(8.1);
        }
        case EXACT_DUPLICATE -> {
          ShardContents.Read source = sourceOf(read, details, byKey);
          assertThat(read.image()).isEqualTo(source.image());
          assertThat(read.caption()).isEqualTo(source.caption());
        }
        case NEAR_DUPLICATE -> {
          ShardContents.Read source = sourceOf(read, details, byKey);
          assertThat(read.image()).isNotEqualTo(source.image());
          assertThat(read.json().path("synthetic").path("scene"))
              .isEqualTo(source.json().path("synthetic").path("scene"));
          BufferedImage original = source.decode();
          assertThat(image.getWidth()).isBetween(original.getWidth() * 3 / 4, original.getWidth());
          assertThat(image.getHeight())
              .isBetween(original.getHeight() * 3 / 4, original.getHeight());
        }
        case MISMATCHED_CAPTION -> {
          JsonNode scene = read.json().path("synthetic").path("scene");
          assertThat(details.path("captionScene")).isNotEqualTo(scene);
          String to = details.path("to").asText();
          String word = details.path("changed").asText().equals("count") ? countWord(to) : to;
          assertThat(read.caption().toLowerCase(Locale.ROOT)).as(read.key()).contains(word);
          JsonNode group = scene.path("objects").get(details.path("group").asInt());
          assertThat(group.path(details.path("changed").asText()).asText())
              .isEqualTo(details.path("from").asText())
              .isNotEqualTo(to);
        }
        case EMPTY_CAPTION -> assertThat(read.caption()).isEmpty();
        case GARBAGE_CAPTION ->
            assertThat(read.caption().split(" "))
                .isNotEmpty()
                .noneMatch(w -> w.matches("[a-z]+") && Captioner.vocabulary().contains(w));
      }
      if (!defect.equals("corrupt_image")) {
        assertThat(image.getWidth()).isEqualTo(read.json().path("width").asInt());
        assertThat(image.getHeight()).isEqualTo(read.json().path("height").asInt());
      }
      assertThat(read.json().path("caption").asText()).isEqualTo(read.caption());
    }
    assertThat(seen.keySet())
        .containsExactlyInAnyOrderElementsOf(
            Arrays.stream(Defect.values()).map(Defect::id).toList());
    assertThat(defectiveResult.defectiveSamples())
        .isEqualTo(seen.values().stream().mapToLong(i -> i).sum());
  }

  @Test
  void noDefectsAtRateZero() throws IOException {
    assertThat(ShardContents.read(clean)).allSatisfy(r -> assertThat(r.defect()).isNull());
  }

  @Test
  void rerunReplacesAnEarlierRunButRefusesForeignDirectories() throws IOException {
    Path rerun = tmp.resolve("rerun");
    SynthGenerator.generate(new SynthOptions(rerun, 3, 2, 1, 0.0, 1), SynthProgress.NONE);
    SynthGenerator.generate(new SynthOptions(rerun, 1, 2, 1, 0.0, 1), SynthProgress.NONE);
    assertThat(ShardContents.shardFiles(rerun)).hasSize(1);

    Path foreign = Files.createDirectories(tmp.resolve("foreign"));
    Files.writeString(foreign.resolve("notes.txt"), "keep me");
    assertThatThrownBy(
            () ->
                SynthGenerator.generate(
                    new SynthOptions(foreign, 1, 2, 1, 0.0, 1), SynthProgress.NONE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not empty")
        .hasMessageContaining("notes.txt");
    assertThat(foreign.resolve("notes.txt")).exists();
  }

  private static ShardContents.Read sourceOf(
      ShardContents.Read read, JsonNode details, Map<String, ShardContents.Read> byKey) {
    String sourceKey = details.path("source").asText();
    assertThat(sourceKey).as(read.key()).isLessThan(read.key());
    ShardContents.Read source = byKey.get(sourceKey);
    assertThat(source).as(sourceKey).isNotNull();
    assertThat(source.defect()).as("source " + sourceKey + " stays clean").isNull();
    return source;
  }

  private static String countWord(String digits) {
    return List.of("zero", "one", "two", "three", "four", "five").get(Integer.parseInt(digits));
  }

  private static int distinctColours(BufferedImage image) {
    Set<Integer> colours = new HashSet<>();
    for (int y = 0; y < image.getHeight(); y++) {
      for (int x = 0; x < image.getWidth(); x++) {
        colours.add(image.getRGB(x, y));
      }
    }
    return colours.size();
  }
}
