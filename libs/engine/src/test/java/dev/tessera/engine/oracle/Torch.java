package dev.tessera.engine.oracle;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The numerical oracle: libtorch (CPU, through Bytedeco) computes the reference forward values and
 * autograd gradients that every Tessera op and layer is compared with.
 */
public final class Torch {
  /** The bound on {@link #relativeError} for fp32 ops against libtorch. */
  public static final double FP32_TOLERANCE = 1e-4;

  private Torch() {}

  /** A float32 libtorch tensor holding a copy of {@code values}. */
  public static Tensor tensor(float[] values, long... shape) {
    try (FloatPointer pointer = new FloatPointer(values)) {
      return torch.from_blob(pointer, shape, torch.dtype(torch.ScalarType.Float)).clone();
    }
  }

  /** Like {@link #tensor}, with gradients recorded. */
  public static Tensor parameter(float[] values, long... shape) {
    Tensor tensor = tensor(values, shape);
    tensor.set_requires_grad(true);
    return tensor;
  }

  /** An int64 libtorch tensor (indices, targets). */
  public static Tensor longs(long[] values, long... shape) {
    try (LongPointer pointer = new LongPointer(values)) {
      return torch.from_blob(pointer, shape, torch.dtype(torch.ScalarType.Long)).clone();
    }
  }

  /** A float32 tensor's values, row-major. */
  public static float[] values(Tensor tensor) {
    Tensor dense = tensor.detach().to(torch.ScalarType.Float).contiguous();
    float[] out = new float[Math.toIntExact(dense.numel())];
    new FloatPointer(dense.data_ptr()).get(out);
    return out;
  }

  /** The gradient libtorch accumulated for {@code parameter}. */
  public static float[] grad(Tensor parameter) {
    return values(parameter.grad());
  }

  /** Normal random values (mean 0, standard deviation {@code scale}). */
  public static float[] randn(Random random, int n, double scale) {
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = (float) (random.nextGaussian() * scale);
    }
    return values;
  }

  /** {@code max |actual - expected| / max |expected|}: error relative to the tensor's scale. */
  public static double relativeError(float[] actual, float[] expected) {
    assertThat(actual).hasSameSizeAs(expected);
    double worst = 0;
    double scale = 0;
    for (int i = 0; i < expected.length; i++) {
      worst = Math.max(worst, Math.abs(actual[i] - (double) expected[i]));
      scale = Math.max(scale, Math.abs(expected[i]));
    }
    return worst / Math.max(scale, 1e-30);
  }

  /** Asserts {@link #relativeError} within {@link #FP32_TOLERANCE}, naming the worst element. */
  public static void assertClose(String what, float[] actual, float[] expected) {
    assertClose(what, actual, expected, FP32_TOLERANCE);
  }

  public static void assertClose(String what, float[] actual, float[] expected, double tolerance) {
    double error = relativeError(actual, expected);
    if (error > tolerance) {
      int worst = 0;
      for (int i = 0; i < expected.length; i++) {
        if (Math.abs(actual[i] - expected[i]) > Math.abs(actual[worst] - expected[worst])) {
          worst = i;
        }
      }
      throw new AssertionError(
          String.format(
              "%s: relative error %.3g > %.1g (worst at %d: %g vs libtorch %g)",
              what, error, tolerance, worst, actual[worst], expected[worst]));
    }
    assertThat(expected)
        .as(what + ": reference must not be all zeros")
        .isNotEqualTo(new float[expected.length]);
  }
}
