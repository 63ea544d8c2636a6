package dev.tessera.engine.cpu;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Products and wall time of {@link Gemm#sgemm} and {@link Gemm#sgemmBatched} by shape, while
 * switched on: which products a training step spends its time in, and at what rate each runs there
 * (a product inside a step reads operands that other operations left in memory, so it can run
 * slower than the same product in a loop). Off, it costs {@code sgemm} one volatile read.
 */
public final class GemmProfile {
  /** A product's shape and layout; {@code accumulate} when C is added to (beta != 0). */
  public record Shape(boolean transA, boolean transB, int m, int n, int k, boolean accumulate) {
    /** As {@code NT 1024x256x256 +C}: op(A) and op(B) layouts, M x N x K, whether C is added to. */
    @Override
    public String toString() {
      return (transA ? "T" : "N")
          + (transB ? "T" : "N")
          + " "
          + m
          + "x"
          + n
          + "x"
          + k
          + (accumulate ? " +C" : "");
    }

    /** Floating-point operations of one product: a multiply and an add per term. */
    public double flop() {
      return 2.0 * m * n * k;
    }
  }

  /**
   * One shape's products (a batched call counts its batch) and their total wall time, summed over
   * the calling threads.
   */
  public record Row(Shape shape, long products, long nanos) {
    /** GFLOP/s over the products' wall time. */
    public double gflops() {
      return nanos == 0 ? 0 : shape.flop() * products / nanos;
    }
  }

  private static volatile boolean recording;
  private static final Map<Shape, LongAdder[]> TOTALS = new ConcurrentHashMap<>();

  private GemmProfile() {}

  /** Forgets what was recorded and starts recording. */
  public static void start() {
    TOTALS.clear();
    recording = true;
  }

  /** Stops recording; returns each shape's totals, the costliest first. */
  public static List<Row> stop() {
    recording = false;
    List<Row> rows = new ArrayList<>();
    TOTALS.forEach((shape, t) -> rows.add(new Row(shape, t[0].sum(), t[1].sum())));
    rows.sort(Comparator.comparingLong(Row::nanos).reversed());
    return rows;
  }

  static boolean recording() {
    return recording;
  }

  /** {@code products} products of one shape (one call, or a batched call) took {@code nanos}. */
  static void record(
      boolean transA, boolean transB, int m, int n, int k, float beta, int products, long nanos) {
    LongAdder[] totals =
        TOTALS.computeIfAbsent(
            new Shape(transA, transB, m, n, k, beta != 0),
            s -> new LongAdder[] {new LongAdder(), new LongAdder()});
    totals[0].add(products);
    totals[1].add(nanos);
  }
}
