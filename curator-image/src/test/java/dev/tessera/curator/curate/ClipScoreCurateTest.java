package dev.tessera.curator.curate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.tessera.curator.Cli;
import dev.tessera.curator.CuratorMain;
import dev.tessera.data.scores.ScoreRow;
import dev.tessera.data.scores.ScoreTable;
import dev.tessera.data.synth.SynthGenerator;
import dev.tessera.data.synth.SynthOptions;
import dev.tessera.data.synth.SynthProgress;
import dev.tessera.data.webdataset.ReadOptions;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.WebDatasetReader;
import dev.tessera.engine.cpu.CpuBackend;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The clipScore filter in the curate command with a tiny random SigLIP (with a tokenizer.json, and
 * with only SigLIP's spiece.model) and a tiny random CLIP, each tokenizer found in its model
 * directory: every sample that passes the basic filters gets the cosine (and SigLIP's probability)
 * the scorer computes for it (in batches of 3, so batches end mid-shard), and a top-fraction rule
 * selects on the cosine.
 */
class ClipScoreCurateTest {
  @TempDir static Path dir;
  static Path raw;

  @BeforeAll
  static void tinyModelsAndData() throws IOException {
    TinyImageText.writeSiglip(dir.resolve("siglip"), 5);
    TinyImageText.writeClip(dir.resolve("clip"), 5, TinyImageText.CLIP_END);
    // SigLIP as Google published it: a SentencePiece spiece.model, no tokenizer.json.
    Path spiece = dir.resolve("siglip-spiece");
    TinyImageText.writeSiglip(spiece, 5);
    Files.delete(spiece.resolve("tokenizer.json"));
    SentencePieceModelFile.write(
        spiece.resolve("spiece.model"), List.of("<pad>", "</s>", "<unk>"), TinyImageText.WORDS);
    raw = dir.resolve("raw");
    SynthGenerator.generate(new SynthOptions(raw, 1, 30, 6, 0.2, 2), SynthProgress.NONE);
  }

  @ParameterizedTest
  @ValueSource(strings = {"siglip", "clip", "siglip-spiece"})
  void everyPassingSampleIsScoredAsTheScorerScoresItAndTheBestHalfIsKept(String family)
      throws IOException {
    Path model = dir.resolve(family);
    Path config = dir.resolve(family + ".yaml");
    Files.writeString(
        config,
        "filters:\n  dedup: {enabled: false}\n  clipScore:\n    model: "
            + model
            + "\n    batch: 3\nselect: {score: clip, topFraction: 0.5}\n");
    Path out = dir.resolve("out-" + family);
    Cli.Outcome outcome =
        Cli.run(
            "curate",
            "--input",
            raw.toString(),
            "--out",
            out.toString(),
            "--config",
            config.toString());
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    List<ScoreRow> rows = ScoreTable.read(out.resolve(Curator.SCORES).resolve("00000.parquet"));
    List<ScoreRow> passing = rows.stream().filter(ScoreRow::passes).toList();
    assertThat(passing.size()).isGreaterThan(15);
    for (ScoreRow row : rows) {
      if (row.passes()) {
        assertThat(row.scores()).containsKey("clip");
        assertThat(row.scores().get("clip")).isBetween(-1.0, 1.0);
        if (family.startsWith("siglip")) {
          assertThat(row.scores().get("clip_probability")).isBetween(0.0, 1.0);
        } else {
          assertThat(row.scores()).containsOnlyKeys("clip");
        }
      } else {
        assertThat(row.scores()).isEmpty();
      }
    }

    // The table holds what the scorer computes for the same samples, scored all at once.
    Map<String, BufferedImage> images = new HashMap<>();
    try (WebDatasetReader reader =
        WebDatasetReader.open(List.of(raw.resolve("00000.tar")), ReadOptions.anySample())) {
      while (reader.hasNext()) {
        Sample sample = reader.next();
        try {
          images.put(sample.key(), ImageIO.read(sample.openImage().orElseThrow()));
        } catch (IOException defect) {
          // the generator's damaged images: the basic filters reject them
        }
      }
    }
    try (ClipScorer scorer = new ClipScorer(CpuBackend.get(), model, null, 0, null)) {
      List<BufferedImage> pictures = new ArrayList<>();
      List<String> captions = new ArrayList<>();
      for (ScoreRow row : passing) {
        pictures.add(images.get(row.key()));
        captions.add(row.caption());
      }
      List<ClipScorer.Score> expected = scorer.score(pictures, captions);
      for (int i = 0; i < passing.size(); i++) {
        assertThat(passing.get(i).scores().get("clip"))
            .as(passing.get(i).key())
            .isCloseTo(expected.get(i).cosine(), within(1e-6));
      }
    }

    // The rule keeps the better half of the scored candidates, and whatever ties with the last
    // of them (unknown words make equal captions, and equal images equal scores).
    long kept = Files.readAllLines(out.resolve(Curator.KEPT)).size();
    List<Double> sorted =
        passing.stream()
            .map(row -> row.scores().get("clip"))
            .sorted(Comparator.reverseOrder())
            .toList();
    double threshold = sorted.get((passing.size() + 1) / 2 - 1);
    assertThat(kept).isEqualTo(sorted.stream().filter(score -> score >= threshold).count());
    assertThat(kept).isLessThan(passing.size());
  }

  @Test
  void theScorersBackendIsAnOptionAndAMissingGpuStopsTheRunAtOnce() throws IOException {
    Path config = dir.resolve("gpu.yaml");
    Path model = dir.resolve("clip");
    Files.writeString(
        config,
        "filters:\n  clipScore:\n    model: "
            + model
            + "\n    tokenizer: "
            + model.resolve("tokenizer.json")
            + "\n");
    // This build machine has no GPU: the run says so before scoring anything.
    Path out = dir.resolve("out-gpu");
    Cli.Outcome cuda =
        Cli.run(
            "curate",
            "--input",
            raw.toString(),
            "--out",
            out.toString(),
            "--config",
            config.toString(),
            "--backend",
            "cuda");
    assertThat(cuda.exitCode()).as(cuda.err()).isEqualTo(CuratorMain.NO_DEVICE);
    assertThat(cuda.err()).contains("error: ").contains("CUDA");
    assertThat(out.resolve(Curator.SCORES).resolve("00000.parquet")).doesNotExist();

    Cli.Outcome tpu =
        Cli.run(
            "curate",
            "--input",
            raw.toString(),
            "--out",
            out.toString(),
            "--config",
            config.toString(),
            "--backend",
            "tpu");
    assertThat(tpu.exitCode()).isEqualTo(CuratorMain.USAGE_ERROR);
    assertThat(tpu.err()).contains("--backend must be cpu or cuda, got 'tpu'");
  }
}
