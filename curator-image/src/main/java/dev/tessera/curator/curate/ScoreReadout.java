package dev.tessera.curator.curate;

import dev.tessera.engine.cpu.FastMath;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads a model's 0..100 rating from its next-token distributions (see {@link MlmFilterScorer}):
 * greedily, and as the expected value over the integers it could write.
 */
final class ScoreReadout {
  /** The model's next-token logits after the prompt and some answer tokens. */
  interface NextTokens {
    /** Logits [continuations][vocab] after the prompt followed by each continuation. */
    float[][] after(List<int[]> continuations);
  }

  /** The continuations every readout asks for: none, each digit, and "1" "0". */
  List<int[]> planned() {
    List<int[]> out = new ArrayList<>();
    out.add(new int[0]);
    for (int d = 0; d < 10; d++) {
      out.add(new int[] {digitIds[d]});
    }
    out.add(new int[] {digitIds[1], digitIds[0]});
    return out;
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

  /** The two readouts of the model's answer (see the class comment). */
  MlmFilterScorer.Score read(NextTokens next) {
    int[] start = new int[0]; // nothing written yet
    // Greedy: digits while the most likely token is one.
    StringBuilder digits = new StringBuilder();
    int[] sequence = start;
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
    double[] p1 = digitProbabilities(first);
    List<int[]> seconds = new ArrayList<>();
    for (int d = 0; d < 10; d++) {
      seconds.add(append(start, digitIds[d]));
    }
    float[][] secondLogits = next.after(seconds);
    double[] numbers = new double[101];
    double pTen = 0;
    for (int d = 0; d < 10; d++) {
      double pd = p1[d];
      double[] p2 = digitProbabilities(secondLogits[d]);
      double pDigit = 0;
      for (int e = 0; e < 10; e++) {
        double pe = pd * p2[e];
        pDigit += p2[e];
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
    double[] p3 =
        digitProbabilities(next.after(List.of(append(append(start, digitIds[1]), digitIds[0])))[0]);
    numbers[100] += pTen * p3[0];
    numbers[10] += pTen * (1 - p3[0]);
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

  /**
   * The probability of each digit under the softmax of {@code logits}: the normaliser from the
   * Vector API's {@code exp} summed in double, each digit's own term in double (they can be tiny).
   */
  double[] digitProbabilities(float[] logits) {
    float max = FastMath.max(logits, 0, logits.length);
    float[] scratch = new float[logits.length];
    double sum = FastMath.expShiftSumDouble(logits, 0, max, scratch, 0, logits.length);
    double[] p = new double[10];
    for (int d = 0; d < 10; d++) {
      p[d] = Math.exp((double) logits[digitIds[d]] - max) / sum;
    }
    return p;
  }
}
