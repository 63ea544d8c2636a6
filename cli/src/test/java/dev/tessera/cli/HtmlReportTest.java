package dev.tessera.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.v1alpha1.CheckpointRecord;
import dev.tessera.api.v1alpha1.Phase;
import dev.tessera.api.v1alpha1.TesseraStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HtmlReportTest {
  @TempDir Path volume;

  private String reportOfPacking(String stats) throws IOException {
    Files.createDirectories(volume.resolve("packed"));
    Files.writeString(volume.resolve("packed/stats.json"), stats);
    LocalState state = LocalState.open(volume);
    TesseraStatus done = new TesseraStatus();
    done.phase = Phase.Succeeded;
    state.put("PackJob/pack", LocalState.JSON.readTree("{\"output\": \"packed\"}"), done);
    return Files.readString(HtmlReport.write(volume, null, state));
  }

  @Test
  void aPackedSetsReportCountsWhatTheRepeatsLeftOutAndPackedAgain() throws IOException {
    String stats =
        """
        {"samples": 150, "sequences": 12, "lower_bound_sequences": 11, "sequence_length": 512,
         "algorithm": "fill", "fill_ratio": 0.95, "dropped": 3, "truncated": 1,
         "not_chosen": 40, "repeated": 90}
        """;
    assertThat(reportOfPacking(stats))
        .contains("150 samples packed into <b>12 sequences</b> of 512 tokens (fill)")
        .contains(
            "3 dropped, 1 truncated; by the inputs' repeats, 40 not chosen and 90 packed again.");
  }

  @Test
  void withoutRepeatsTheReportSaysNothingOfThem() throws IOException {
    String stats =
        """
        {"samples": 150, "sequences": 12, "lower_bound_sequences": 11, "sequence_length": 512,
         "algorithm": "ffd", "fill_ratio": 0.95, "dropped": 3, "truncated": 1,
         "not_chosen": 0, "repeated": 0}
        """;
    assertThat(reportOfPacking(stats))
        .contains("3 dropped, 1 truncated.</p>")
        .doesNotContain("repeats");
  }

  @Test
  void aRunsReportNamesItsBestCheckpoint() throws IOException {
    Files.createDirectories(volume.resolve("runs/pt"));
    Files.writeString(
        volume.resolve("runs/pt/metrics.jsonl"),
        "{\"step\": 1, \"loss\": 9.0, \"eval_loss\": 8.0}\n"
            + "{\"step\": 2, \"loss\": 7.0, \"eval_loss\": 9.5}\n");
    LocalState state = LocalState.open(volume);
    TesseraStatus done = new TesseraStatus();
    done.phase = Phase.Succeeded;
    done.latestCheckpoint = new CheckpointRecord();
    done.latestCheckpoint.step = 2L;
    done.latestCheckpoint.path = "runs/pt/checkpoints/step-00000002";
    done.bestCheckpoint = new CheckpointRecord();
    done.bestCheckpoint.step = 1L;
    done.bestCheckpoint.path = "runs/pt/checkpoints/step-00000001";
    done.bestCheckpoint.evalLoss = 8.0;
    state.put("PretrainRun/pt", LocalState.JSON.readTree("{\"output\": \"runs/pt\"}"), done);

    assertThat(Files.readString(HtmlReport.write(volume, null, state)))
        .contains("Latest checkpoint: step 2")
        .contains(
            "Best checkpoint (lowest held-out loss, 8.0000): step 1,"
                + " <code>runs/pt/checkpoints/step-00000001</code>");
  }
}
