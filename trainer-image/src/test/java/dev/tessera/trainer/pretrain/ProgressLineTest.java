package dev.tessera.trainer.pretrain;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ProgressLineTest {
  @Test
  void barShowsTheShareDoneInTwentyCharacters() {
    assertThat(Pretrainer.progressBar(0, 40)).isEqualTo("[" + ".".repeat(20) + "]");
    assertThat(Pretrainer.progressBar(10, 40)).isEqualTo("[#####" + ".".repeat(15) + "]");
    assertThat(Pretrainer.progressBar(40, 40)).isEqualTo("[" + "#".repeat(20) + "]");
  }

  @Test
  void etaExtrapolatesThePaceSoFar() {
    long started = System.nanoTime() - 10_000_000_000L; // 10 s ago
    assertThat(Pretrainer.eta(started, 0, 5)).isEqualTo("0m00s");
    // 10 s for 2 steps: 5 s each, 30 steps left -> 150 s.
    assertThat(Pretrainer.eta(started, 2, 30)).matches("2m3[01]s");
    assertThat(Pretrainer.eta(started, 1, 720)).matches("2h00m[0-5][0-9]s");
  }
}
