package dev.tessera.curator.curate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.curator.Cli;
import dev.tessera.data.scores.ScoreRow;
import dev.tessera.data.scores.ScoreTable;
import dev.tessera.data.synth.SynthGenerator;
import dev.tessera.data.synth.SynthOptions;
import dev.tessera.data.synth.SynthProgress;
import dev.tessera.data.webdataset.ReadOptions;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.WebDatasetReader;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.text.QwenTokenizer;
import dev.tessera.model.text.QwenTokenizerFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * MLM-Filter scoring in the curate command with a tiny random vision-language model: every sample
 * that passes the basic filters gets both readouts, the table holds what the scorer computes for
 * the sample, and a selection rule can use the scores.
 */
class MlmFilterCurateTest {
  @TempDir static Path dir;
  static Path model;
  static Path raw;
  static Path tokenizer;

  @BeforeAll
  static void tinyModelAndData() throws IOException {
    tokenizer = QwenTokenizerFiles.tokenizerJson();
    model = dir.resolve("filter-model");
    TinyImageText.writeVlm(model);
    raw = dir.resolve("raw");
    SynthGenerator.generate(new SynthOptions(raw, 1, 40, 5, 0.2, 2), SynthProgress.NONE);
  }

  @Test
  void everyPassingSampleIsScoredAsTheScorerScoresIt() throws IOException {
    Path config = dir.resolve("mlm.yaml");
    Files.writeString(
        config,
        "filters:\n  mlmFilter:\n    model: "
            + model
            + "\n    tokenizer: "
            + tokenizer
            + "\n    metric: su\n    template: \"Rate how well the text describes the image."
            + " Text Caption: {caption}\"\nselect: {score: su_expected, topFraction: 0.5}\n");
    Path out = dir.resolve("out");
    Cli.Outcome outcome =
        Cli.run(
            "curate",
            "--input",
            raw.toString(),
            "--out",
            out.toString(),
            "--config",
            config.toString(),
            "--workers",
            "2");
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    List<ScoreRow> rows = ScoreTable.read(out.resolve(Curator.SCORES).resolve("00000.parquet"));
    long scored = 0;
    for (ScoreRow row : rows) {
      if (row.passes()) {
        scored++;
        assertThat(row.scores()).containsKeys("su", "su_expected");
        assertThat(row.scores().get("su_expected")).isBetween(0.0, 100.0);
        double greedy = row.scores().get("su");
        assertThat(
                Double.isNaN(greedy)
                    || (greedy >= 0 && greedy <= 999 && greedy == Math.rint(greedy)))
            .isTrue();
      } else {
        assertThat(row.scores()).isEmpty();
      }
    }
    assertThat(scored).isGreaterThan(20);
    // The table holds what the scorer computes for the same sample.
    ScoreRow first = rows.stream().filter(ScoreRow::passes).findFirst().orElseThrow();
    try (QwenTokenizer qwen = QwenTokenizer.load(tokenizer);
        WebDatasetReader reader =
            WebDatasetReader.open(List.of(raw.resolve("00000.tar")), ReadOptions.anySample())) {
      MlmFilterScorer scorer =
          new MlmFilterScorer(
              CpuBackend.get(),
              model,
              null,
              qwen,
              "Rate how well the text describes the image. Text Caption: {caption}",
              0,
              3);
      while (reader.hasNext()) {
        Sample sample = reader.next();
        if (sample.key().equals(first.key())) {
          MlmFilterScorer.Score score =
              scorer.score(ImageIO.read(sample.openImage().orElseThrow()), first.caption());
          // Scored alone here, in a batch there: the same within rounding.
          assertThat(first.scores().get("su_expected")).isCloseTo(score.expected(), within(1e-4));
          assertThat(first.scores().get("su")).isEqualTo(Double.valueOf(score.greedy()));
        }
      }
    }
    // The rule keeps the better half of the scored candidates.
    long kept = Files.readAllLines(out.resolve(Curator.KEPT)).size();
    assertThat(kept).isBetween(1L, scored);
    assertThat(
            new ObjectMapper()
                .readTree(out.resolve(Curator.STATS).toFile())
                .path("rejections")
                .path("not_selected")
                .asLong())
        .isPositive();
  }

  @Test
  void aTemplateWithoutTheCaptionIsRefused() throws IOException {
    Path config = dir.resolve("bad-mlm.yaml");
    Files.writeString(
        config,
        "filters:\n  mlmFilter: {model: "
            + model
            + ", tokenizer: "
            + tokenizer
            + ", template: \"Rate it.\"}\n");
    Cli.Outcome outcome =
        Cli.run(
            "curate",
            "--input",
            raw.toString(),
            "--out",
            dir.resolve("bad").toString(),
            "--config",
            config.toString());
    assertThat(outcome.exitCode()).isNotZero();
    assertThat(outcome.err()).contains("the template has no {caption}");
  }
}
