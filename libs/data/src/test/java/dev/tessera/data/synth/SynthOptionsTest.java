package dev.tessera.data.synth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class SynthOptionsTest {
  private static final Path OUT = Path.of("out");

  @Test
  void rejectsBadCountsRatesAndThreads() {
    assertThatThrownBy(() -> new SynthOptions(OUT, 0, 10, 1, 0, 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("shards");
    assertThatThrownBy(() -> new SynthOptions(OUT, 1, 0, 1, 0, 1))
        .hasMessageContaining("samples per shard");
    assertThatThrownBy(() -> new SynthOptions(OUT, 1, 1, 1, 1.5, 1))
        .hasMessageContaining("defect rate");
    assertThatThrownBy(() -> new SynthOptions(OUT, 1, 1, 1, Double.NaN, 1))
        .hasMessageContaining("defect rate");
    assertThatThrownBy(() -> new SynthOptions(OUT, 1, 1, 1, -0.1, 1))
        .hasMessageContaining("defect rate");
    assertThatThrownBy(() -> new SynthOptions(OUT, 1, 1, 1, 0, 0)).hasMessageContaining("threads");
    assertThatThrownBy(() -> new SynthOptions(OUT, 100_000, 100_000, 1, 0, 1))
        .hasMessageContaining("samples in total");
    assertThat(new SynthOptions(OUT, 3, 4, 1, 1.0, 2).totalSamples()).isEqualTo(12);
  }

  @Test
  void keyDigitsFollowImg2dataset() {
    assertThat(SampleFactory.keyDigits(1)).isEqualTo(1);
    assertThat(SampleFactory.keyDigits(10)).isEqualTo(1);
    assertThat(SampleFactory.keyDigits(11)).isEqualTo(2);
    assertThat(SampleFactory.keyDigits(100)).isEqualTo(2);
    assertThat(SampleFactory.keyDigits(10_000)).isEqualTo(4);
    assertThat(SampleFactory.keyDigits(10_001)).isEqualTo(5);
    SampleFactory factory = new SampleFactory(1, SynthPlan.create(1, 20_000, 0), 10_000);
    assertThat(factory.key(10_023)).isEqualTo("000010023");
  }

  @Test
  void planPointsDuplicatesAtEarlierCleanSamples() {
    SynthPlan plan = SynthPlan.create(3, 2_000, 0.5);
    int defective = 0;
    for (int i = 0; i < plan.size(); i++) {
      Defect defect = plan.defect(i);
      if (defect == null) {
        assertThat(plan.source(i)).isEqualTo(-1);
        continue;
      }
      defective++;
      if (defect.needsSource()) {
        assertThat(plan.source(i)).isBetween(0, i - 1);
        assertThat(plan.defect(plan.source(i))).isNull();
      }
    }
    assertThat(defective).isBetween(900, 1100);
  }
}
