package dev.tessera.engine.cuda;

/**
 * {@code C = alpha * op(A) op(B) + beta * C} over row-major matrices, {@code op(A)} M×K, {@code
 * op(B)} K×N, C M×N, each with its row stride (leading dimension). cuBLAS is column-major; a
 * row-major matrix is the column-major view of its transpose, so this GEMM is issued as the
 * column-major {@code C^T = op(B)^T op(A)^T}: the operands swap places, M and N swap, and each
 * keeps its own transpose flag. {@link #toColumnMajor} does that mapping; the checks here catch bad
 * shapes before they reach the library, which would only say "invalid value".
 *
 * @param transA A is stored K×M (use its transpose)
 * @param transB B is stored N×K
 */
public record RowMajorGemm(
    boolean transA, boolean transB, int m, int n, int k, int lda, int ldb, int ldc) {

  public RowMajorGemm {
    if (m < 0 || n < 0 || k < 0) {
      throw new IllegalArgumentException("GEMM dimensions M=" + m + " N=" + n + " K=" + k);
    }
    requireStride("A", lda, transA ? m : k);
    requireStride("B", ldb, transB ? k : n);
    requireStride("C", ldc, n);
  }

  /** Row-major rows × cols with the tightest stride. */
  public static RowMajorGemm packed(boolean transA, boolean transB, int m, int n, int k) {
    return new RowMajorGemm(transA, transB, m, n, k, transA ? m : k, transB ? k : n, n);
  }

  private static void requireStride(String name, int ld, int rowLength) {
    if (ld < Math.max(1, rowLength)) {
      throw new IllegalArgumentException(
          name + "'s row stride " + ld + " is shorter than its rows of " + rowLength);
    }
  }

  /** e.g. {@code A^TB 8960x1536x4096}: the transposes and M x N x K, for logs and profiles. */
  public String label() {
    return (transA ? "A^T" : "A") + (transB ? "B^T" : "B") + " " + m + "x" + n + "x" + k;
  }

  /** Elements of A, B and C the call reads or writes, counted from each matrix's start. */
  public long extentA() {
    return extent(transA ? k : m, transA ? m : k, lda);
  }

  public long extentB() {
    return extent(transB ? n : k, transB ? k : n, ldb);
  }

  public long extentC() {
    return extent(m, n, ldc);
  }

  private static long extent(int rows, int cols, int ld) {
    return rows == 0 || cols == 0 ? 0 : (long) (rows - 1) * ld + cols;
  }

  /**
   * The column-major call: {@code C' (m' × n') = op'(A') op'(B')}, A' being this B and B' this A.
   *
   * @param transA transpose flag of the first cuBLAS operand
   * @param transB of the second
   * @param rowsA stored rows of the first operand (column-major), {@code cols}: its columns
   */
  public record ColumnMajor(
      boolean transA,
      boolean transB,
      int m,
      int n,
      int k,
      int rowsA,
      int colsA,
      int lda,
      int rowsB,
      int colsB,
      int ldb,
      int ldc) {}

  public ColumnMajor toColumnMajor() {
    // First operand: row-major B viewed column-major. Untransposed B is K×N row-major = N×K
    // column-major, i.e. op'(A') = N×K with no transpose.
    int rowsFirst = transB ? k : n;
    int colsFirst = transB ? n : k;
    int rowsSecond = transA ? m : k;
    int colsSecond = transA ? k : m;
    return new ColumnMajor(
        transB, transA, n, m, k, rowsFirst, colsFirst, ldb, rowsSecond, colsSecond, lda, ldc);
  }
}
