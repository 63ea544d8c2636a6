package dev.tessera.curator.filter;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.synth.SynthGenerator;
import dev.tessera.data.synth.SynthOptions;
import dev.tessera.data.synth.SynthProgress;
import dev.tessera.data.webdataset.ReadOptions;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.ShardList;
import dev.tessera.data.webdataset.WebDatasetReader;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The basic filters and dedup against the synthetic generator's ground truth: each defect they are
 * meant to find is found with precision and recall of at least 0.95, and clean samples are kept (at
 * least 0.98).
 */
class BasicFiltersTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> DETECTABLE = SyntheticDefects.DETECTABLE;

  @TempDir static java.nio.file.Path dir;

  /** Ground truth and verdict of each sample, in order. */
  record Verdict(String defect, List<String> reasons) {}

  static List<Verdict> verdicts;

  @BeforeAll
  static void judgeSyntheticSamples() throws IOException {
    SynthGenerator.generate(new SynthOptions(dir, 4, 300, 23, 0.35, 2), SynthProgress.NONE);
    BasicFilters filters = BasicFilters.defaults();
    Deduplicator dedup = new Deduplicator(24, true);
    verdicts = new ArrayList<>();
    try (WebDatasetReader reader =
        WebDatasetReader.open(ShardList.resolve(dir, "."), ReadOptions.anySample())) {
      while (reader.hasNext()) {
        Sample sample = reader.next();
        String defect =
            JSON.readTree(sample.json().orElseThrow())
                .path("synthetic")
                .path("defect")
                .asText("none");
        SampleFacts facts = SampleFacts.of(sample, filters);
        List<String> reasons = new ArrayList<>(facts.reasons());
        if (facts.passes()) {
          String duplicate =
              dedup.check(facts.contentHash(), facts.perceptualHash(), facts.caption());
          if (duplicate != null) {
            reasons.add(duplicate);
          }
        }
        verdicts.add(new Verdict(defect, reasons));
      }
    }
  }

  @Test
  void everyDetectableDefectIsFoundWithPrecisionAndRecall() {
    Map<String, int[]> byDefect = new LinkedHashMap<>(); // [defective, rejected]
    int rejected = 0;
    int truePositives = 0;
    for (Verdict verdict : verdicts) {
      boolean reject = !verdict.reasons().isEmpty();
      rejected += reject ? 1 : 0;
      int[] counts = byDefect.computeIfAbsent(verdict.defect(), d -> new int[2]);
      counts[0]++;
      counts[1] += reject ? 1 : 0;
      truePositives += reject && DETECTABLE.contains(verdict.defect()) ? 1 : 0;
    }
    Map<String, Double> recall = new HashMap<>();
    byDefect.forEach((defect, counts) -> recall.put(defect, (double) counts[1] / counts[0]));
    for (String defect : DETECTABLE) {
      assertThat(byDefect).as("the synthetic data has %s samples", defect).containsKey(defect);
      assertThat(recall.get(defect))
          .as("recall of %s, %s", defect, recall)
          .isGreaterThanOrEqualTo(0.95);
    }
    double precision = (double) truePositives / rejected;
    System.out.printf(
        "basic filters and dedup on %d synthetic samples: precision %.3f, clean kept %.3f,"
            + " recall by defect %s%n",
        verdicts.size(), precision, 1 - recall.get("none"), recall);
    assertThat(precision).as("precision, recall by defect %s", recall).isGreaterThanOrEqualTo(0.95);
    assertThat(1 - recall.get("none")).as("clean samples kept").isGreaterThanOrEqualTo(0.98);
  }

  @Test
  void oversizedImagesAreRefusedFromTheirHeader() throws IOException {
    BufferedImage image = new BufferedImage(300, 200, BufferedImage.TYPE_INT_RGB);
    java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
    ImageIO.write(image, "png", png);
    Sample sample =
        Sample.of(
            "k",
            Map.of(
                "png", png.toByteArray(),
                "txt",
                    "A black picture of nothing at all."
                        .getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    BasicFilters tight = new BasicFilters(64, 50_000, 3.5, 1.0, 2, 200, 0.6, 0.6);
    SampleFacts facts = SampleFacts.of(sample, tight);
    assertThat(facts.reasons()).containsExactly("oversized_image");
    assertThat(facts.width()).isEqualTo(300);
    assertThat(facts.perceptualHash()).as("never decoded").isNull();
    assertThat(SampleFacts.of(sample, BasicFilters.defaults()).reasons())
        .containsExactly("blank_image");
  }

  @Test
  void captionHeuristicsTellWordsFromGarbage() {
    BasicFilters filters = BasicFilters.defaults();
    assertThat(filters.captionProblems("A red square next to two blue circles.")).isEmpty();
    assertThat(filters.captionProblems("Photo 2019: crème brûlée, naïve café")).isEmpty();
    assertThat(filters.captionProblems("日本語 の キャプション です")).isEmpty();
    assertThat(filters.captionProblems("")).containsExactly("short_caption");
    assertThat(filters.captionProblems("x7#q zkv9 @@!! 3f8s bcdfg")).isNotEmpty();
    assertThat(filters.captionProblems("qwrtz xkcdp mnbvc")).contains("not_language");
  }

  @Test
  void perceptualHashesAreCloseForResizedCopiesAndFarForOtherImages() {
    BufferedImage image = new BufferedImage(120, 90, BufferedImage.TYPE_INT_RGB);
    var g = image.createGraphics();
    g.setColor(java.awt.Color.ORANGE);
    g.fillOval(10, 10, 60, 40);
    g.setColor(java.awt.Color.BLUE);
    g.fillRect(70, 40, 40, 40);
    g.dispose();
    BufferedImage smaller = new BufferedImage(100, 75, BufferedImage.TYPE_INT_RGB);
    var s = smaller.createGraphics();
    s.drawImage(image, 0, 0, 100, 75, null);
    s.dispose();
    BufferedImage other = new BufferedImage(120, 90, BufferedImage.TYPE_INT_RGB);
    var o = other.createGraphics();
    o.setColor(java.awt.Color.GREEN);
    o.fillRect(0, 45, 120, 45);
    o.dispose();
    long[] hash = PerceptualHash.of(image);
    assertThat(PerceptualHash.distance(hash, PerceptualHash.of(smaller))).isLessThanOrEqualTo(16);
    assertThat(PerceptualHash.distance(hash, PerceptualHash.of(other))).isGreaterThan(60);

    Deduplicator dedup = new Deduplicator(24, true);
    assertThat(dedup.check("a", hash, "One")).isNull();
    assertThat(dedup.check("a", hash, "Two")).isEqualTo("exact_duplicate");
    assertThat(dedup.check("b", PerceptualHash.of(smaller), "Three")).isEqualTo("near_duplicate");
    assertThat(dedup.check("c", PerceptualHash.of(other), "  one ")).isEqualTo("duplicate_caption");
    assertThat(dedup.check("d", PerceptualHash.of(other), "Four")).isNull();
  }
}
