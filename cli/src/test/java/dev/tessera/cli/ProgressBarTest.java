package dev.tessera.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.v1alpha1.Progress;
import org.junit.jupiter.api.Test;

class ProgressBarTest {
  @Test
  void aTrainingLineNamesDamageAndSkippedStepsOnlyWhenThereAreAny() {
    Progress p = new Progress();
    p.step = 40L;
    p.steps = 100L;
    p.loss = 2.5;
    p.evalLoss = 2.75;
    p.eta = "2m";
    p.damagedSequences = 0L;
    p.skippedSteps = 0L;
    assertThat(ProgressBar.detail(p)).isEqualTo("step 40/100 loss 2.500 held-out 2.750 eta 2m");

    p.damagedSequences = 3L;
    p.skippedSteps = 1L;
    assertThat(ProgressBar.detail(p))
        .isEqualTo(
            "step 40/100 loss 2.500 held-out 2.750 3 damaged passed over 1 steps skipped eta 2m");
  }
}
