package dev.tessera.curator.curate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads a model's 0..100 rating from its next-token distributions (see {@link MlmFilterScorer}):
 * greedily, and as the expected value over the integers it could write.
 */
final class ScoreReadout {
  /** Next-token logits of prefixes of one length. */
  interface NextTokens {
    /** Logits [prefixes][vocab] after each prefix. */
    float[][] after(List<int[]> prefixes);
  }

  private final int[] digitIds;
  private final int maxNewTokens;

  /**
   * @param digitIds the token of each digit 0..9
   * @param maxNewTokens digits read greedily at most
   */
  ScoreReadout(int[] digitIds, int maxNewTokens) {
    if (digitIds.length != 10) {
      throw new IllegalArgumentException("need the tokens of the ten digits");
    }
    if (maxNewTokens < 1) {
      throw new IllegalArgumentException("maxNewTokens must be >= 1");
    }
    this.digitIds = digitIds.clone();
    this.maxNewTokens = maxNewTokens;
  }

  /** The two readouts of the answer after {@code prompt} (see the class comment). */
  MlmFilterScorer.Score read(int[] prompt, NextTokens next) {
    // Greedy: digits while the most likely token is one.
    StringBuilder digits = new StringBuilder();
    int[] sequence = prompt;
    float[] first = null;
    for (int step = 0; step < maxNewTokens; step++) {
      float[] logits = next.after(List.of(sequence))[0];
      if (step == 0) {
        first = logits;
      }
      int best = argmax(logits);
      int digit = digitOf(best);
      if (digit < 0) {
        break;
      }
      digits.append(digit);
      sequence = append(sequence, best);
    }
    double greedy = digits.length() == 0 ? Double.NaN : Integer.parseInt(digits.toString());

    // Expected: P(n) for n in 0..100 from the first digit, the second after it, and "100".
    double[] p1 = softmax(first);
    List<int[]> seconds = new ArrayList<>();
    for (int d = 0; d < 10; d++) {
      seconds.add(append(prompt, digitIds[d]));
    }
    float[][] secondLogits = next.after(seconds);
    double[] numbers = new double[101];
    double pTen = 0;
    for (int d = 0; d < 10; d++) {
      double pd = p1[digitIds[d]];
      double[] p2 = softmax(secondLogits[d]);
      double pDigit = 0;
      for (int e = 0; e < 10; e++) {
        double pe = pd * p2[digitIds[e]];
        pDigit += p2[digitIds[e]];
        if (d == 0) {
          numbers[e] += pe; // "0e" reads as e
        } else if (d == 1 && e == 0) {
          pTen = pe;
        } else {
          numbers[10 * d + e] += pe;
        }
      }
      numbers[d] += pd * Math.max(0, 1 - pDigit);
    }
    double[] p3 = softmax(next.after(List.of(append(append(prompt, digitIds[1]), digitIds[0])))[0]);
    numbers[100] += pTen * p3[digitIds[0]];
    numbers[10] += pTen * (1 - p3[digitIds[0]]);
    double mass = 0;
    double weighted = 0;
    for (int n = 0; n <= 100; n++) {
      mass += numbers[n];
      weighted += n * numbers[n];
    }
    return new MlmFilterScorer.Score(greedy, mass > 0 ? weighted / mass : Double.NaN);
  }

  private int digitOf(int token) {
    for (int d = 0; d < 10; d++) {
      if (digitIds[d] == token) {
        return d;
      }
    }
    return -1;
  }

  private static int[] append(int[] ids, int token) {
    int[] out = Arrays.copyOf(ids, ids.length + 1);
    out[ids.length] = token;
    return out;
  }

  private static int argmax(float[] values) {
    int best = 0;
    for (int i = 1; i < values.length; i++) {
      if (values[i] > values[best]) {
        best = i;
      }
    }
    return best;
  }

  /** Softmax in double (the digit probabilities can be tiny). */
  static double[] softmax(float[] logits) {
    double max = Double.NEGATIVE_INFINITY;
    for (float v : logits) {
      max = Math.max(max, v);
    }
    double[] p = new double[logits.length];
    double sum = 0;
    for (int i = 0; i < logits.length; i++) {
      p[i] = Math.exp(logits[i] - max);
      sum += p[i];
    }
    for (int i = 0; i < p.length; i++) {
      p[i] /= sum;
    }
    return p;
  }
}
