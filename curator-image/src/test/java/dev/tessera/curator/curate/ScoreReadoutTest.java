package dev.tessera.curator.curate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The two readouts of a rating from hand-made next-token distributions. */
class ScoreReadoutTest {
  private static final int VOCAB = 30;
  private static final int END = 0;
  private static final int[] DIGITS = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19};

  /** Logits giving {@code probabilities} (token id to probability), the rest impossible. */
  private static float[] logits(Map<Integer, Double> probabilities) {
    float[] logits = new float[VOCAB];
    Arrays.fill(logits, -1e9f);
    probabilities.forEach((token, p) -> logits[token] = (float) Math.log(p));
    return logits;
  }

  /** Distributions by the answer written so far (the digits after the prompt). */
  private static ScoreReadout.NextTokens model(Map<String, Map<Integer, Double>> byAnswer) {
    return continuations -> {
      float[][] out = new float[continuations.size()][];
      for (int r = 0; r < continuations.size(); r++) {
        StringBuilder answer = new StringBuilder();
        for (int token : continuations.get(r)) {
          answer.append(token - 10);
        }
        out[r] = logits(byAnswer.getOrDefault(answer.toString(), Map.of(END, 1.0)));
      }
      return out;
    };
  }

  @Test
  void greedyDigitsAndTheExpectedValueOverTheIntegers() {
    ScoreReadout.NextTokens model =
        model(
            Map.of(
                "", Map.of(18, 0.6, 19, 0.3, END, 0.1),
                "8", Map.of(15, 0.8, END, 0.2),
                "9", Map.of(10, 0.5, END, 0.5)));
    MlmFilterScorer.Score score = new ScoreReadout(DIGITS, 3).read(model);
    assertThat(score.greedy()).isEqualTo(85);
    // 8: 0.6 * 0.2, 85: 0.6 * 0.8, 9: 0.3 * 0.5, 90: 0.3 * 0.5; the answer "end" (0.1) is no
    // number.
    double expected = (8 * 0.12 + 85 * 0.48 + 9 * 0.15 + 90 * 0.15) / 0.9;
    assertThat(score.expected()).isCloseTo(expected, within(1e-5));
  }

  @Test
  void aHundredIsReadWholeWhereTwoTokensReadTen() {
    ScoreReadout.NextTokens model =
        model(
            Map.of(
                "", Map.of(11, 1.0),
                "1", Map.of(10, 1.0),
                "10", Map.of(10, 0.7, END, 0.3)));
    assertThat(new ScoreReadout(DIGITS, 3).read(model).greedy()).isEqualTo(100);
    assertThat(new ScoreReadout(DIGITS, 2).read(model).greedy()).isEqualTo(10);
    assertThat(new ScoreReadout(DIGITS, 3).read(model).expected())
        .isCloseTo(0.3 * 10 + 0.7 * 100, within(1e-5));
  }

  @Test
  void thePlannedContinuationsAreTheOnesTheExpectedReadoutAsksFor() {
    List<String> asked = new ArrayList<>();
    ScoreReadout readout = new ScoreReadout(DIGITS, 1);
    readout.read(
        continuations -> {
          continuations.forEach(c -> asked.add(Arrays.toString(c)));
          return model(Map.of("", Map.of(END, 1.0))).after(continuations);
        });
    assertThat(asked)
        .containsExactlyInAnyOrderElementsOf(
            readout.planned().stream().map(Arrays::toString).toList());
  }

  @Test
  void anAnswerThatIsNoNumberScoresNaN() {
    ScoreReadout.NextTokens model = model(Map.of("", Map.of(END, 1.0)));
    MlmFilterScorer.Score score = new ScoreReadout(DIGITS, 3).read(model);
    assertThat(score.greedy()).isNaN();
    assertThat(score.expected()).isNaN();
  }
}
