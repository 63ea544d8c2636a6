package dev.tessera.api.progress;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.v1alpha1.TesseraStatus;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProgressFoldTest {

  private static void fold(TesseraStatus status, String checkpoints) {
    String report =
        "{\"version\": 1, \"kind\": \"PretrainRun\", \"phase\": \"Running\", \"progress\": {\"step\":"
            + " 9}, \"checkpoints\": "
            + checkpoints
            + "}";
    ProgressFold.training(status, ProgressFold.reports(Map.of("progress.json", report)));
  }

  @Test
  void theBestCheckpointIsTheNewestTheTrainerMarkedBest() {
    TesseraStatus status = new TesseraStatus();
    fold(
        status,
        "[{\"step\": 2, \"path\": \"c/2\", \"loss\": 6.5, \"evalLoss\": 5.0, \"best\": true},"
            + " {\"step\": 3, \"path\": \"c/3\", \"loss\": 6.1, \"evalLoss\": 6.0}]");
    assertThat(status.latestCheckpoint.step).isEqualTo(3);
    assertThat(status.latestCheckpoint.evalLoss).isEqualTo(6.0);
    assertThat(status.bestCheckpoint.step).isEqualTo(2);
    assertThat(status.bestCheckpoint.evalLoss).isEqualTo(5.0);

    // A later report no longer lists step 2 (the worker keeps its last few): the best stays.
    fold(status, "[{\"step\": 4, \"path\": \"c/4\", \"loss\": 5.9, \"evalLoss\": 7.0}]");
    assertThat(status.latestCheckpoint.step).isEqualTo(4);
    assertThat(status.bestCheckpoint.step).isEqualTo(2);

    fold(
        status,
        "[{\"step\": 4, \"path\": \"c/4\", \"loss\": 5.9, \"evalLoss\": 7.0},"
            + " {\"step\": 5, \"path\": \"c/5\", \"loss\": 5.0, \"evalLoss\": 4.0, \"best\": true}]");
    assertThat(status.bestCheckpoint.step).isEqualTo(5);
    assertThat(status.bestCheckpoint.path).isEqualTo("c/5");
  }

  @Test
  void withoutKeepBestThereIsNoBestCheckpoint() {
    TesseraStatus status = new TesseraStatus();
    fold(status, "[{\"step\": 2, \"path\": \"c/2\", \"loss\": 6.5, \"evalLoss\": 5.0}]");
    assertThat(status.latestCheckpoint.evalLoss).isEqualTo(5.0);
    assertThat(status.bestCheckpoint).isNull();
  }
}
