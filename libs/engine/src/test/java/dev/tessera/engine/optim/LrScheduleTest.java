package dev.tessera.engine.optim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class LrScheduleTest {
  private static final double PEAK = 3e-4;
  private static final double MIN = 3e-5;
  private static final int WARMUP = 10;
  private static final int TOTAL = 110;

  private final LrSchedule schedule = new LrSchedule(PEAK, MIN, WARMUP, TOTAL);

  @Test
  void warmupIsLinearFromZero() {
    assertThat(schedule.lr(0)).isEqualTo(0.0);
    assertThat(schedule.lr(1)).isCloseTo(PEAK / 10, within(1e-15));
    assertThat(schedule.lr(WARMUP - 1)).isCloseTo(PEAK * 9 / 10, within(1e-15));
  }

  @Test
  void cosineFromPeakToMin() {
    assertThat(schedule.lr(WARMUP)).isCloseTo(PEAK, within(1e-15));
    // middle: progress 1/2, cos = 0
    assertThat(schedule.lr(60)).isCloseTo((PEAK + MIN) / 2, within(1e-15));
    // a quarter in: 0.5 * (1 + cos(pi / 4))
    double quarter = MIN + (PEAK - MIN) * 0.5 * (1 + Math.sqrt(0.5));
    assertThat(schedule.lr(35)).isCloseTo(quarter, within(1e-15));
    // last update (step TOTAL - 1): progress 99/100
    double last = MIN + (PEAK - MIN) * 0.5 * (1 + Math.cos(Math.PI * 0.99));
    assertThat(schedule.lr(TOTAL - 1)).isCloseTo(last, within(1e-15));
    assertThat(schedule.lr(TOTAL)).isCloseTo(MIN, within(1e-15));
    assertThat(schedule.lr(TOTAL + 50)).isCloseTo(MIN, within(1e-15));
  }

  @Test
  void hfDefaultDecaysToZeroAndRatioSetsMinimum() {
    LrSchedule hf = new LrSchedule(1.0, 0.0, 4, 12);
    // HF lr_lambda for num_cycles = 0.5: max(0, 0.5 * (1 + cos(pi * progress)))
    for (int s = 4; s <= 12; s++) {
      double progress = (s - 4) / 8.0;
      double expected = Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 2 * 0.5 * progress)));
      assertThat(hf.lr(s)).as("step %d", s).isCloseTo(expected, within(1e-15));
    }
    LrSchedule ratio = LrSchedule.withMinRatio(2.0, 0.1, 0, 5);
    assertThat(ratio.minLr()).isCloseTo(0.2, within(1e-15));
    assertThat(ratio.lr(0)).isEqualTo(2.0); // no warmup: the peak right away
    assertThat(ratio.lr(5)).isCloseTo(0.2, within(1e-15));
  }

  @Test
  void monotoneAfterWarmup() {
    for (int s = WARMUP; s < TOTAL; s++) {
      assertThat(schedule.lr(s + 1)).isLessThanOrEqualTo(schedule.lr(s));
    }
  }

  @Test
  void badArgumentsAreNamed() {
    assertThatThrownBy(() -> new LrSchedule(1e-3, 1e-2, 0, 10))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("minLr");
    assertThatThrownBy(() -> new LrSchedule(1e-3, 0, 20, 10))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("totalSteps");
    assertThatThrownBy(() -> schedule.lr(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("step");
  }
}
