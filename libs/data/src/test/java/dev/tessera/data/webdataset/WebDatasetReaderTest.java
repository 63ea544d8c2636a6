package dev.tessera.data.webdataset;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.data.webdataset.Problem.Kind;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every kind of hostile input: counted with shard and key, never fatal, neighbours kept. */
class WebDatasetReaderTest {

  @TempDir Path dir;

  private record Result(List<Sample> samples, ReadReport report) {
    List<String> keys() {
      return samples.stream().map(Sample::key).toList();
    }

    Problem only(Kind kind) {
      List<Problem> matching = report.problems().stream().filter(p -> p.kind() == kind).toList();
      assertThat(matching).as("problems of kind %s in %s", kind, report).hasSize(1);
      return matching.get(0);
    }
  }

  private static Result read(ReadOptions options, Path... shards) {
    try (WebDatasetReader reader = WebDatasetReader.open(List.of(shards), options)) {
      List<Sample> samples = reader.stream().toList();
      return new Result(samples, reader.report());
    }
  }

  private static Result read(Path... shards) {
    return read(ReadOptions.defaults(), shards);
  }

  @Test
  void groupsMembersByKeyKeepingEveryExtension() throws IOException {
    Path shard =
        new TarBuilder()
            .file("dir/000.jpg", TarBuilder.payload("000", 50))
            .file("dir/000.txt", "a red circle")
            .file("dir/000.json", "{\"uid\":\"x\"}")
            .file("dir/000.seg.PNG", "mask")
            .file("dir/001.webp", TarBuilder.payload("001", 20))
            .file("dir/001.txt", "two blue squares")
            .writeTo(dir.resolve("00000.tar"));

    Result result = read(shard);

    assertThat(result.keys()).containsExactly("dir/000", "dir/001");
    Sample first = result.samples().get(0);
    assertThat(first.members().keySet()).containsExactly("jpg", "txt", "json", "seg.png");
    assertThat(first.caption()).contains("a red circle");
    assertThat(first.imageExtension()).contains("jpg");
    assertThat(first.image()).hasValueSatisfying(b -> assertThat(b).hasSize(50));
    assertThat(result.samples().get(1).imageExtension()).contains("webp");
    assertThat(result.report().problemCount()).isZero();
    assertThat(result.report().samples()).isEqualTo(2);
  }

  @Test
  void unsafeMemberNamesAreSkippedAndReported() throws IOException {
    Path shard =
        new TarBuilder()
            .sample("a", 10)
            .file("/etc/passwd.txt", "root")
            .file("../../escape.txt", "out")
            .file("b/../../c.txt", "out")
            .sample("b", 10)
            .writeTo(dir.resolve("00000.tar"));

    Result result = read(shard);

    assertThat(result.keys()).containsExactly("a", "b");
    assertThat(result.report().count(Kind.UNSAFE_PATH)).isEqualTo(3);
    assertThat(result.report().problems())
        .extracting(Problem::key)
        .containsExactly("/etc/passwd.txt", "../../escape.txt", "b/../../c.txt");
    assertThat(result.report().problems()).allMatch(p -> p.shard().equals("00000.tar"));
  }

  @Test
  void onlyWholeDotDotComponentsAndAbsolutePathsAreUnsafe() {
    assertThat(WebDatasetReader.isUnsafe("a/..b.txt")).isFalse();
    assertThat(WebDatasetReader.isUnsafe("..a.txt")).isFalse();
    assertThat(WebDatasetReader.isUnsafe("a/b..c/d.txt")).isFalse();
    assertThat(WebDatasetReader.isUnsafe("a/..")).isTrue();
    assertThat(WebDatasetReader.isUnsafe("..")).isTrue();
    assertThat(WebDatasetReader.isUnsafe("a\\..\\b.txt")).isTrue();
    assertThat(WebDatasetReader.isUnsafe("C:evil.txt")).isTrue();
    assertThat(WebDatasetReader.isUnsafe("\\server\\x.txt")).isTrue();
  }

  @Test
  void linksMalformedNamesAndDirectoriesDoNotBreakSamples() throws IOException {
    Path shard =
        new TarBuilder()
            .directory("d")
            .sample("d/a", 10)
            .symlink("d/link.jpg", "/etc/shadow")
            .file("d/README", "no extension")
            .file("d/.hidden", "no key")
            .sample("d/b", 10)
            .writeTo(dir.resolve("00000.tar"));

    Result result = read(shard);

    assertThat(result.keys()).containsExactly("d/a", "d/b");
    assertThat(result.only(Kind.NON_FILE_MEMBER).key()).isEqualTo("d/link.jpg");
    assertThat(result.report().count(Kind.MALFORMED_NAME)).isEqualTo(2);
  }

  @Test
  void truncatedShardKeepsTheSamplesBeforeTheCutAndTheNextShard() throws IOException {
    byte[] full =
        new TarBuilder()
            .sample("s0", 3000)
            .sample("s1", 3000)
            .sample("s2", 3000)
            .sample("s3", 3000)
            .bytes();
    // Cut in the middle of s2's image: 2 samples × 2 members × (header + data) + header + 1000.
    int cut = 2 * (512 + 3072 + 512 + 512) + 512 + 1000;
    Path truncated = dir.resolve("00000.tar");
    Files.write(truncated, Arrays.copyOf(full, cut));
    Path next = new TarBuilder().sample("n0", 100).writeTo(dir.resolve("00001.tar"));

    Result result = read(truncated, next);

    assertThat(result.keys()).containsExactly("s0", "s1", "n0");
    Problem problem = result.only(Kind.TRUNCATED_SHARD);
    assertThat(problem.shard()).isEqualTo("00000.tar");
    assertThat(problem.key()).isEqualTo("s2");
    assertThat(problem.detail()).contains(".jpg").contains("1000 of 3000 bytes");
    assertThat(result.report().droppedSamples()).isEqualTo(1);
  }

  @Test
  void shardCutInsideAHeaderOrMissingItsEndMarkerIsReported() throws IOException {
    byte[] full = new TarBuilder().sample("s0", 100).sample("s1", 100).bytes();
    int endOfS1 = 4 * 1024;
    Path insideHeader = dir.resolve("00000.tar");
    Files.write(insideHeader, Arrays.copyOf(full, 2 * 1024 + 300));
    Path noEndMarker = dir.resolve("00001.tar");
    Files.write(noEndMarker, Arrays.copyOf(full, endOfS1));
    Path empty = dir.resolve("00002.tar");
    Files.write(empty, new byte[0]);

    Result result = read(insideHeader, noEndMarker, empty);

    assertThat(result.keys()).containsExactly("s0", "s0", "s1");
    assertThat(result.report().count(Kind.TRUNCATED_SHARD)).isEqualTo(3);
    assertThat(result.report().problems())
        .extracting(Problem::shard)
        .containsExactly("00000.tar", "00001.tar", "00002.tar");
    assertThat(result.report().problems().get(2).detail()).isEqualTo("empty file");
  }

  @Test
  void oversizedMemberDropsOnlyItsSample() throws IOException {
    Path shard =
        new TarBuilder()
            .sample("a", 500)
            .sample("big", 5000)
            .sample("c", 500)
            .writeTo(dir.resolve("00000.tar"));

    Result result = read(ReadOptions.defaults().withMaxMemberBytes(1000), shard);

    assertThat(result.keys()).containsExactly("a", "c");
    Problem problem = result.only(Kind.OVERSIZED_MEMBER);
    assertThat(problem.key()).isEqualTo("big");
    assertThat(problem.detail()).contains("5000 bytes").contains("1000");
    assertThat(result.samples().get(1).image())
        .hasValueSatisfying(b -> assertThat(b).isEqualTo(TarBuilder.payload("c", 500)));
  }

  @Test
  void samplesMissingImageOrCaptionAreDroppedAndReported() throws IOException {
    Path shard =
        new TarBuilder()
            .sample("a", 10)
            .file("noimage.txt", "caption only")
            .file("noimage.json", "{}")
            .file("nocaption.png", TarBuilder.payload("x", 10))
            .sample("d", 10)
            .writeTo(dir.resolve("00000.tar"));

    Result strict = read(shard);
    assertThat(strict.keys()).containsExactly("a", "d");
    assertThat(strict.only(Kind.MISSING_IMAGE).key()).isEqualTo("noimage");
    assertThat(strict.only(Kind.MISSING_CAPTION).key()).isEqualTo("nocaption");

    Result lenient = read(ReadOptions.anySample(), shard);
    assertThat(lenient.keys()).containsExactly("a", "noimage", "nocaption", "d");
    assertThat(lenient.report().problemCount()).isZero();
  }

  @Test
  void nonUtf8CaptionIsReportedWithItsKey() throws IOException {
    Path shard =
        new TarBuilder()
            .sample("a", 10)
            .file("latin1.jpg", TarBuilder.payload("l", 10))
            .file("latin1.txt", "caf\u00e9".getBytes(StandardCharsets.ISO_8859_1))
            .file("utf8.jpg", TarBuilder.payload("u", 10))
            .file("utf8.txt", "caf\u00e9 \u4f60\u597d")
            .writeTo(dir.resolve("00000.tar"));

    Result result = read(shard);

    assertThat(result.keys()).containsExactly("a", "utf8");
    assertThat(result.samples().get(1).caption()).contains("caf\u00e9 \u4f60\u597d");
    assertThat(result.only(Kind.INVALID_UTF8_CAPTION).key()).isEqualTo("latin1");
  }

  @Test
  void corruptHeaderIsSkippedByResynchronisingOnTheNextValidHeader() throws IOException {
    byte[] bytes =
        new TarBuilder()
            .sample("s0", 600)
            .sample("s1", 600)
            .sample("s2", 600)
            .sample("s3", 600)
            .bytes();
    // Each sample: jpg header 512 + data 1024, txt header 512 + data 512 = 2560 bytes.
    int s1CaptionHeader = 2560 + 512 + 1024;
    for (int i = 0; i < 512; i++) {
      bytes[s1CaptionHeader + i] = (byte) (i * 31 + 7);
    }
    Path shard = dir.resolve("00000.tar");
    Files.write(shard, bytes);

    Result result = read(shard);

    assertThat(result.keys()).containsExactly("s0", "s2", "s3");
    Problem corrupt = result.only(Kind.CORRUPT_HEADER);
    assertThat(corrupt.detail())
        .contains("at byte " + s1CaptionHeader)
        .contains("resumed at byte " + (s1CaptionHeader + 1024));
    assertThat(result.only(Kind.MISSING_CAPTION).key()).isEqualTo("s1");
  }

  @Test
  void garbageFilesAndUnreadableShardsDoNotStopTheRead() throws IOException {
    Path garbage = dir.resolve("00000.tar");
    byte[] noise = new byte[20_000];
    new Random(7).nextBytes(noise);
    Files.write(garbage, noise);
    Path vanished = dir.resolve("00001.tar");
    Path good = new TarBuilder().sample("g", 10).writeTo(dir.resolve("00002.tar"));

    Result result = read(garbage, vanished, good);

    assertThat(result.keys()).containsExactly("g");
    assertThat(result.report().count(Kind.CORRUPT_HEADER)).isEqualTo(1);
    assertThat(result.only(Kind.UNREADABLE_SHARD).shard()).isEqualTo("00001.tar");
    assertThat(result.report().shards()).isEqualTo(3);
  }

  @Test
  void duplicateMembersAndSplitSamplesAreReported() throws IOException {
    Path shard =
        new TarBuilder()
            .file("a.jpg", TarBuilder.payload("a", 10))
            .file("a.txt", "first")
            .file("a.txt", "second")
            .sample("b", 10)
            .file("a.json", "{}")
            .sample("c", 10)
            .writeTo(dir.resolve("00000.tar"));

    Result result = read(shard);

    assertThat(result.keys()).containsExactly("a", "b", "c");
    assertThat(result.samples().get(0).caption()).contains("first");
    assertThat(result.only(Kind.DUPLICATE_MEMBER).key()).isEqualTo("a");
    assertThat(result.only(Kind.SPLIT_SAMPLE).key()).isEqualTo("a");
  }

  @Test
  void keysOutOfOrderAreFineAsLongAsEachSampleIsContiguous() throws IOException {
    Path shard =
        new TarBuilder()
            .sample("m", 10)
            .sample("c", 10)
            .sample("x", 10)
            .sample("a", 10)
            .file("c.json", "{}")
            .writeTo(dir.resolve("00000.tar"));

    Result result = read(shard);

    assertThat(result.keys()).containsExactly("m", "c", "x", "a");
    assertThat(result.only(Kind.SPLIT_SAMPLE).key()).isEqualTo("c");
  }

  @Test
  void membersSpanningMappedWindowsReadIntact() throws IOException {
    TarBuilder builder = new TarBuilder();
    for (int i = 0; i < 40; i++) {
      builder.sample("k" + i, 1000 + 997 * i);
    }
    Path shard = builder.writeTo(dir.resolve("00000.tar"));

    List<Sample> samples;
    try (WebDatasetReader reader =
        new WebDatasetReader(List.of(shard), ReadOptions.defaults(), 8192)) {
      samples = reader.stream().toList();
      assertThat(reader.report().problemCount()).isZero();
    }

    assertThat(samples).hasSize(40);
    for (int i = 0; i < 40; i++) {
      assertThat(samples.get(i).image().orElseThrow())
          .isEqualTo(TarBuilder.payload("k" + i, 1000 + 997 * i));
    }
  }

  @Test
  void randomlyDamagedShardsNeverCrashTheReaderNorInventSamples() throws IOException {
    Map<String, byte[]> originals = new HashMap<>();
    TarBuilder builder = new TarBuilder();
    for (int i = 0; i < 12; i++) {
      String key = "k" + i;
      originals.put(key, TarBuilder.payload(key, 200 + 90 * i));
      builder.file(key + ".jpg", originals.get(key)).file(key + ".txt", "caption " + i);
    }
    byte[] pristine = builder.bytes();
    Random random = new Random(42);
    Path shard = dir.resolve("00000.tar");
    for (int round = 0; round < 300; round++) {
      byte[] damaged = pristine.clone();
      int flips = 1 + random.nextInt(20);
      for (int f = 0; f < flips; f++) {
        damaged[random.nextInt(damaged.length)] = (byte) random.nextInt(256);
      }
      if (random.nextBoolean()) {
        damaged = Arrays.copyOf(damaged, random.nextInt(damaged.length));
      }
      Files.write(shard, damaged);

      Result result = read(ReadOptions.defaults().withMaxMemberBytes(100_000), shard);

      assertThat(result.samples()).hasSizeLessThanOrEqualTo(12);
      for (Sample sample : result.samples()) {
        assertThat(sample.image().orElseThrow()).hasSizeLessThanOrEqualTo(100_000);
        assertThat(sample.caption()).isPresent();
      }
      assertThat(result.report().samples()).isEqualTo(result.samples().size());
    }
  }
}
