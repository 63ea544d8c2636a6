package dev.tessera.engine.cpu;

import dev.tessera.engine.cpu.simd.SimdGemm;

/**
 * Single-precision matrix multiply on row-major {@code float[]} matrices, BLAS style: {@code C =
 * alpha * op(A) * op(B) + beta * C} where {@code op(X)} is {@code X} or its transpose.
 *
 * <p>GotoBLAS layout: for each block of {@code NC} columns and {@code KC} steps of k, a panel of
 * op(B) is packed (zero-padded to whole micro-panels), then blocks of rows of C are computed in
 * parallel, each packing its rows of op(A) and calling the register-blocked micro-kernel ({@code
 * SimdGemm}: 12 rows x 2 vectors of FMA accumulators with 512-bit vectors, 6 rows with narrower
 * ones; a scalar kernel without the Vector API). A task walks its block of C a row of tiles at a
 * time, along the rows: C is then read and written in address order, which the hardware prefetchers
 * follow, while A's micro-panel stays in L1 and the packed B block in L2.
 *
 * <p>Determinism: every element of C is computed the same way wherever it falls in the blocking
 * (edge blocks run the same kernel on zero-padded panels), k is never split across threads and the
 * k blocks are added in order, so results are bit-identical for any thread count. Products of at
 * most {@link #DOT_ROWS} rows with a transposed B are dot products of rows instead (no packing),
 * equally independent of the thread count.
 *
 * <p>PyTorch: {@code c.mul_(beta).add_(alpha * op(a) @ op(b))}; BLAS: {@code cblas_sgemm} with
 * {@code CblasRowMajor}.
 */
public final class Gemm {
  /** Rows of C per micro-kernel call. */
  static final int MR = Vec.SIMD ? SimdGemm.mr() : 4;

  /** Columns of C per micro-kernel call. */
  static final int NR = Vec.SIMD ? SimdGemm.nr() : 16;

  /** Floats one vector copy of an {@code MR}-float run of A reads and writes. */
  private static final int LANES_PER_RUN = Vec.SIMD ? MR + SimdGemm.runSpill() : MR;

  /**
   * Steps of k per micro-kernel call: one micro-panel of A (MR x KC) stays in L1 while its row of
   * tiles walks across the packed B block. Also the k block, unless a block would be little work
   * (see {@link #kBlock}).
   */
  static final int KC = 256;

  /**
   * Multiply-adds a k block should hold at least. A product of few rows and columns over a long k
   * (a classifier's input gradient, k = the vocabulary) would otherwise spend its time in two
   * fork-joins per 256 steps of k; its k blocks (packing and fork-join) grow instead, up to {@link
   * #MAX_KC}. The kernel still walks them {@link #KC} steps at a time.
   */
  static final long MIN_BLOCK_WORK = 1L << 26;

  /** Longest k block: bounds the packed B buffer of a product that grows its k blocks. */
  static final int MAX_KC = 8192;

  /** The k block for an m x n product: {@link #KC}, longer when a block would be little work. */
  static int kBlock(int m, int n, int k) {
    long work = (long) m * n * KC;
    if (work >= MIN_BLOCK_WORK || k <= KC) {
      return KC;
    }
    long grown = KC * Math.max(1, MIN_BLOCK_WORK / work);
    return (int) Math.min(Math.min(grown, MAX_KC), k);
  }

  /**
   * Column panels of a task up to which a transposed A is read in place instead of packed: each
   * element is used that many times, too few to pay for the copy.
   */
  static final int DIRECT_A_PANELS = 2;

  /**
   * Floats between consecutive packed panels of A beyond their {@code MR * kc}: one cache line. A
   * transposed A is packed a stored row at a time into every panel at once, and panels a multiple
   * of 4 KiB apart (12 x 256 floats is 12 KiB) would all fall in one L1 set, more write streams
   * than it has ways.
   */
  static final int A_PANEL_PAD = 16;

  /** Floats from one packed panel of A to the next, for k blocks of {@code kc} steps. */
  static int aPanelStride(int kc) {
    return MR * kc + A_PANEL_PAD;
  }

  /** Most rows of C per task: its packed A (MC x KC) stays in L2. */
  static final int MC = 16 * MR;

  /**
   * Columns of op(B) per packed block: its {@code KC x NC} floats (1 MiB) stay in L2 while each row
   * of tiles walks across them.
   */
  static final int NC = 1024 / NR * NR;

  /**
   * Rows of C up to which {@code A * B^T} is computed as dot products of rows, without packing B: a
   * few rows against a large B (a classifier over the vocabulary for a handful of positions) would
   * spend their time copying B into panels the kernel then reads once.
   */
  static final int DOT_ROWS = 8;

  /** The C a first k block with beta 0 adds to: one row of zeros, read with a row stride of 0. */
  private static final float[] ZERO_ROW = new float[NR];

  private static final ThreadLocal<float[]> PACKED_A = ThreadLocal.withInitial(() -> new float[0]);
  private static final ThreadLocal<float[]> PACKED_B = ThreadLocal.withInitial(() -> new float[0]);

  private Gemm() {}

  /**
   * {@code C = alpha * op(A) * op(B) + beta * C}, row-major. With {@code beta == 0} C is only
   * written (NaNs in C do not propagate).
   *
   * @param transA whether op(A) is A^T: A is stored [K, M] instead of [M, K]
   * @param transB whether op(B) is B^T: B is stored [N, K] instead of [K, N]
   * @param m rows of op(A) and C
   * @param n columns of op(B) and C
   * @param k columns of op(A), rows of op(B)
   * @param a [M, K] (or [K, M] if transA) from {@code aOffset}, rows {@code lda} apart
   * @param b [K, N] (or [N, K] if transB) from {@code bOffset}, rows {@code ldb} apart
   * @param c [M, N] from {@code cOffset}, rows {@code ldc} apart
   */
  public static void sgemm(
      boolean transA,
      boolean transB,
      int m,
      int n,
      int k,
      float alpha,
      float[] a,
      int aOffset,
      int lda,
      float[] b,
      int bOffset,
      int ldb,
      float beta,
      float[] c,
      int cOffset,
      int ldc) {
    check(transA, transB, 1, m, n, k, a, aOffset, lda, 0, b, bOffset, ldb, 0, c, cOffset, ldc, 0);
    boolean profiled = GemmProfile.recording();
    long start = profiled ? System.nanoTime() : 0;
    run(
        transA,
        transB,
        m,
        n,
        k,
        alpha,
        a,
        aOffset,
        lda,
        b,
        bOffset,
        ldb,
        beta,
        c,
        cOffset,
        ldc,
        // Inside a kernel loop, nested parallel loops would share this thread's packing buffers.
        !Parallel.inKernelThread());
    if (profiled) {
      GemmProfile.record(transA, transB, m, n, k, beta, 1, System.nanoTime() - start);
    }
  }

  /**
   * {@code batch} independent products: for each {@code i}, {@link #sgemm} on the matrices at
   * {@code aOffset + i * strideA}, {@code bOffset + i * strideB} and {@code cOffset + i * strideC}.
   * Many small products run one per thread; few large ones each use all threads.
   *
   * @param a [batch, M, K] (or [batch, K, M] if transA), matrices {@code strideA} elements apart
   * @param b [batch, K, N] (or [batch, N, K] if transB), matrices {@code strideB} elements apart
   * @param c [batch, M, N], matrices {@code strideC} elements apart
   */
  public static void sgemmBatched(
      boolean transA,
      boolean transB,
      int batch,
      int m,
      int n,
      int k,
      float alpha,
      float[] a,
      int aOffset,
      int lda,
      int strideA,
      float[] b,
      int bOffset,
      int ldb,
      int strideB,
      float beta,
      float[] c,
      int cOffset,
      int ldc,
      int strideC) {
    check(
        transA, transB, batch, m, n, k, a, aOffset, lda, strideA, b, bOffset, ldb, strideB, c,
        cOffset, ldc, strideC);
    boolean worker = Parallel.inKernelThread();
    // Enough products for every thread: one product per thread, each single-threaded.
    // Otherwise the products run one after another, each on all threads.
    boolean perProduct = !worker && batch >= Parallel.threads();
    Parallel.Range products =
        (from, to) -> {
          for (int i = from; i < to; i++) {
            run(
                transA,
                transB,
                m,
                n,
                k,
                alpha,
                a,
                aOffset + i * strideA,
                lda,
                b,
                bOffset + i * strideB,
                ldb,
                beta,
                c,
                cOffset + i * strideC,
                ldc,
                !worker && !perProduct);
          }
        };
    boolean profiled = GemmProfile.recording();
    long start = profiled ? System.nanoTime() : 0;
    if (perProduct) {
      Parallel.forRange(batch, 1, products);
    } else {
      products.run(0, batch);
    }
    if (profiled) {
      GemmProfile.record(transA, transB, m, n, k, beta, batch, System.nanoTime() - start);
    }
  }

  private static void run(
      boolean transA,
      boolean transB,
      int m,
      int n,
      int k,
      float alpha,
      float[] a,
      int aOff,
      int lda,
      float[] b,
      int bOff,
      int ldb,
      float beta,
      float[] c,
      int cOff,
      int ldc,
      boolean parallel) {
    if (m == 0 || n == 0) {
      return;
    }
    if (k == 0 || alpha == 0) {
      forRange(
          parallel,
          m,
          Math.max(1, 16384 / n),
          (from, to) -> scale(beta, c, cOff, ldc, from, to, 0, n));
      return;
    }
    if (!transA && transB && m <= DOT_ROWS) {
      dotRows(m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc, parallel);
      return;
    }
    int threads = parallel ? Parallel.threads() : 1;
    // Rows per task: at most MC, and a task count that is a multiple of the thread count.
    int rowTasks = ceilDiv(m, MC);
    rowTasks = ceilDiv(rowTasks, threads) * threads;
    int mc = Math.min(MC, ceilDiv(ceilDiv(m, rowTasks), MR) * MR);
    int mTiles = ceilDiv(m, mc);
    int kBlock = kBlock(m, n, k);
    float[] packedB = buffer(PACKED_B, kBlock * Math.min(NC, ceilDiv(n, NR) * NR));
    for (int j0 = 0; j0 < n; j0 += NC) {
      int nc = Math.min(NC, n - j0);
      int nPanels = ceilDiv(nc, NR);
      // Split columns too when there are too few row blocks for the threads.
      int colTasks = Math.min(nPanels, Math.max(1, ceilDiv(2 * threads, mTiles)));
      int panelsPerTask = ceilDiv(nPanels, colTasks);
      colTasks = ceilDiv(nPanels, panelsPerTask);
      int nSplit = colTasks;
      int jBlock = j0;
      for (int p0 = 0; p0 < k; p0 += kBlock) {
        int kc = Math.min(kBlock, k - p0);
        int pBlock = p0;
        forRange(
            parallel,
            nPanels,
            Math.max(1, 4096 / kc),
            (from, to) -> packB(transB, b, bOff, ldb, pBlock, kc, jBlock, nc, packedB, from, to));
        forRange(
            parallel,
            mTiles * nSplit,
            1,
            (from, to) -> {
              float[] packedA = buffer(PACKED_A, ceilDiv(mc, MR) * aPanelStride(kc));
              float[] edge = new float[MR * NR];
              for (int t = from; t < to; t++) {
                int i0 = (t / nSplit) * mc;
                int rows = Math.min(mc, m - i0);
                int panel0 = (t % nSplit) * panelsPerTask;
                int panel1 = Math.min(nPanels, panel0 + panelsPerTask);
                int colFrom = jBlock + panel0 * NR;
                int colTo = Math.min(jBlock + nc, jBlock + panel1 * NR);
                // With beta 0 the first k block adds its sums to zeros instead of to C: C is
                // only written, never cleared first and read back.
                boolean fresh = pBlock == 0 && beta == 0;
                if (pBlock == 0 && !fresh) {
                  scale(beta, c, cOff, ldc, i0, i0 + rows, colFrom, colTo);
                }
                // Against a few column panels, packing A costs as much as using it: a
                // transposed A is then read where it is stored (a k step's MR values are
                // contiguous, as in a packed panel). Only a last partial tile is packed (padded).
                int fullTiles = transA && panel1 - panel0 <= DIRECT_A_PANELS ? rows / MR : 0;
                if (fullTiles * MR < rows) {
                  packA(
                      transA,
                      a,
                      aOff,
                      lda,
                      i0 + fullTiles * MR,
                      rows - fullTiles * MR,
                      pBlock,
                      kc,
                      packedA);
                }
                // The kernel walks the k block KC steps at a time: each element's sum is chained
                // per KC steps whatever the k block. Tiles go along C's rows: down a column of
                // tiles, every tile's rows missed in cache (a cold C cost up to a third of the
                // kernel's time), along them the prefetchers fetch C ahead.
                for (int ps = 0; ps < kc; ps += KC) {
                  int steps = Math.min(KC, kc - ps);
                  for (int ip = 0; ip * MR < rows; ip++) {
                    int i = i0 + ip * MR;
                    int r = Math.min(MR, rows - ip * MR);
                    boolean direct = ip < fullTiles;
                    for (int jp = panel0; jp < panel1; jp++) {
                      int j = jBlock + jp * NR;
                      int cols = Math.min(NR, jBlock + nc - j);
                      block(
                          steps,
                          direct ? a : packedA,
                          direct
                              ? aOff + (pBlock + ps) * lda + i
                              : (ip - fullTiles) * aPanelStride(kc) + ps * MR,
                          direct ? lda : MR,
                          packedB,
                          jp * NR * kc + ps * NR,
                          fresh && ps == 0,
                          c,
                          cOff + i * ldc + j,
                          ldc,
                          alpha,
                          r,
                          cols,
                          edge);
                    }
                  }
                }
              }
            });
      }
    }
  }

  /**
   * {@code C = alpha * A * B^T + beta * C} for a few rows of A: each element one dot product of a
   * row of A with a row of B (both contiguous), B read once, split over its rows.
   */
  private static void dotRows(
      int m,
      int n,
      int k,
      float alpha,
      float[] a,
      int aOff,
      int lda,
      float[] b,
      int bOff,
      int ldb,
      float beta,
      float[] c,
      int cOff,
      int ldc,
      boolean parallel) {
    forRange(
        parallel,
        n,
        Math.max(1, 32768 / (k * m)),
        (from, to) -> {
          for (int j = from; j < to; j++) {
            int bRow = bOff + j * ldb;
            for (int i = 0; i < m; i++) {
              float product = alpha * Vec.dot(a, aOff + i * lda, b, bRow, k);
              int at = cOff + i * ldc + j;
              c[at] = beta == 0 ? product : product + beta * c[at];
            }
          }
        });
  }

  /**
   * One MR x NR block of C; partial blocks go through {@code edge} with the same arithmetic. With
   * {@code fresh} the sums are added to zeros rather than to C (whatever C held is overwritten).
   */
  private static void block(
      int kc,
      float[] pa,
      int paOff,
      int paStride,
      float[] pb,
      int pbOff,
      boolean fresh,
      float[] c,
      int cOff,
      int ldc,
      float alpha,
      int rows,
      int cols,
      float[] edge) {
    if (rows == MR && cols == NR) {
      if (fresh) {
        kernel(kc, pa, paOff, paStride, pb, pbOff, ZERO_ROW, 0, 0, c, cOff, ldc, alpha);
      } else {
        kernel(kc, pa, paOff, paStride, pb, pbOff, c, cOff, ldc, c, cOff, ldc, alpha);
      }
      return;
    }
    java.util.Arrays.fill(edge, 0f);
    kernel(kc, pa, paOff, paStride, pb, pbOff, edge, 0, NR, edge, 0, NR, 1f);
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        int at = cOff + i * ldc + j;
        c[at] = Math.fma(edge[i * NR + j], alpha, fresh ? 0f : c[at]);
      }
    }
  }

  /** {@code C = fma(alpha, A * B, cIn)} for one MR x NR block; {@code cIn} may be C itself. */
  private static void kernel(
      int kc,
      float[] a,
      int aOff,
      int aStride,
      float[] b,
      int bOff,
      float[] cIn,
      int cInOff,
      int ldcIn,
      float[] c,
      int cOff,
      int ldc,
      float alpha) {
    if (Vec.SIMD) {
      SimdGemm.kernel(kc, a, aOff, aStride, b, bOff, cIn, cInOff, ldcIn, c, cOff, ldc, alpha);
      return;
    }
    float[] acc = new float[MR * NR];
    for (int p = 0; p < kc; p++) {
      for (int i = 0; i < MR; i++) {
        float x = a[aOff + p * aStride + i];
        for (int j = 0; j < NR; j++) {
          acc[i * NR + j] += x * b[bOff + p * NR + j];
        }
      }
    }
    for (int i = 0; i < MR; i++) {
      for (int j = 0; j < NR; j++) {
        c[cOff + i * ldc + j] = Math.fma(acc[i * NR + j], alpha, cIn[cInOff + i * ldcIn + j]);
      }
    }
  }

  /** {@code C[rows, cols] *= beta}; with beta 0, zeros. */
  private static void scale(
      float beta, float[] c, int cOff, int ldc, int rowFrom, int rowTo, int colFrom, int colTo) {
    if (beta == 1) {
      return;
    }
    for (int i = rowFrom; i < rowTo; i++) {
      int row = cOff + i * ldc;
      if (beta == 0) {
        java.util.Arrays.fill(c, row + colFrom, row + colTo, 0f);
      } else {
        for (int j = colFrom; j < colTo; j++) {
          c[row + j] *= beta;
        }
      }
    }
  }

  /**
   * Packs op(A)[i0:i0+rows, p0:p0+kc] as MR-row panels {@code [panel][p][MR]}, zero-padded, panels
   * {@link #aPanelStride} floats apart.
   */
  static void packA(
      boolean transA, float[] a, int aOff, int lda, int i0, int rows, int p0, int kc, float[] dst) {
    if (transA) {
      packATransposed(a, aOff, lda, i0, rows, p0, kc, dst);
      return;
    }
    for (int ip = 0; ip * MR < rows; ip++) {
      int base = ip * aPanelStride(kc);
      int r = Math.min(MR, rows - ip * MR);
      if (r < MR) {
        java.util.Arrays.fill(dst, base, base + MR * kc, 0f);
      }
      int i = i0 + ip * MR;
      if (r == 12) {
        packRows12(a, aOff + i * lda + p0, lda, kc, dst, base);
        continue;
      }
      for (int ii = 0; ii < r; ii++) {
        int src = aOff + (i + ii) * lda + p0;
        int d = base + ii;
        for (int p = 0; p < kc; p++) {
          dst[d + p * MR] = a[src + p];
        }
      }
    }
  }

  /**
   * Twelve rows of A into one panel, a k step at a time: the stores are contiguous and each row is
   * read in order. Row by row, every store went to a new place {@code MR} floats on (1.2 stores a
   * cache line); over a long k that made packing as slow as a quarter of the product.
   */
  private static void packRows12(float[] a, int src, int lda, int kc, float[] dst, int base) {
    for (int p = 0; p < kc; p++) {
      int d = base + p * 12;
      int s = src + p;
      dst[d] = a[s];
      dst[d + 1] = a[s + lda];
      dst[d + 2] = a[s + 2 * lda];
      dst[d + 3] = a[s + 3 * lda];
      dst[d + 4] = a[s + 4 * lda];
      dst[d + 5] = a[s + 5 * lda];
      dst[d + 6] = a[s + 6 * lda];
      dst[d + 7] = a[s + 7 * lda];
      dst[d + 8] = a[s + 8 * lda];
      dst[d + 9] = a[s + 9 * lda];
      dst[d + 10] = a[s + 10 * lda];
      dst[d + 11] = a[s + 11 * lda];
    }
  }

  /**
   * A stored [K, M]: op(A)[i, p] = A[p, i]. Walks the stored rows p in order and reads each once,
   * contiguously ({@code rows} floats), scattering MR-float runs to the panels: the per-panel order
   * re-read every cache line once per panel, with a stride of {@code lda} (often a multiple of 4
   * KiB, so the lines also collide in L1).
   */
  private static void packATransposed(
      float[] a, int aOff, int lda, int i0, int rows, int p0, int kc, float[] dst) {
    int full = rows / MR;
    int r = rows - full * MR;
    int panelStride = aPanelStride(kc);
    if (r > 0) {
      java.util.Arrays.fill(dst, full * panelStride, full * panelStride + MR * kc, 0f);
    }
    // Whole vectors per run where the panels' padding takes the spill and A has the floats to
    // read past the last run (the last stored row's runs are then copied by the loop below).
    boolean vector =
        Vec.SIMD && LANES_PER_RUN > MR && LANES_PER_RUN - MR <= A_PANEL_PAD && full > 0;
    int vectorRows =
        vector
            ? Math.min(
                kc,
                Math.floorDiv(a.length - (aOff + i0 + (full - 1) * MR + LANES_PER_RUN), lda)
                    + 1
                    - p0)
            : 0;
    for (int p = 0; p < kc; p++) {
      int src = aOff + (p0 + p) * lda + i0;
      int d = p * MR;
      if (p < vectorRows) {
        SimdGemm.copyRuns(a, src, dst, d, panelStride, full);
      } else {
        for (int ip = 0; ip < full; ip++) {
          int s = src + ip * MR;
          int t = d + ip * panelStride;
          for (int ii = 0; ii < MR; ii++) {
            dst[t + ii] = a[s + ii];
          }
        }
      }
      if (r > 0) {
        int s = src + full * MR;
        int t = d + full * panelStride;
        for (int ii = 0; ii < r; ii++) {
          dst[t + ii] = a[s + ii];
        }
      }
    }
  }

  /** Packs op(B)[p0:p0+kc, j0:j0+nc] panels {@code [from, to)} as {@code [panel][p][NR]}. */
  private static void packB(
      boolean transB,
      float[] b,
      int bOff,
      int ldb,
      int p0,
      int kc,
      int j0,
      int nc,
      float[] dst,
      int from,
      int to) {
    for (int jp = from; jp < to; jp++) {
      int base = jp * NR * kc;
      int j = j0 + jp * NR;
      int cols = Math.min(NR, j0 + nc - j);
      if (cols < NR) {
        java.util.Arrays.fill(dst, base, base + NR * kc, 0f);
      }
      if (transB) {
        for (int jj = 0; jj < cols; jj++) {
          int src = bOff + (j + jj) * ldb + p0;
          for (int p = 0; p < kc; p++) {
            dst[base + p * NR + jj] = b[src + p];
          }
        }
      } else {
        for (int p = 0; p < kc; p++) {
          System.arraycopy(b, bOff + (p0 + p) * ldb + j, dst, base + p * NR, cols);
        }
      }
    }
  }

  private static void forRange(boolean parallel, int n, int grain, Parallel.Range body) {
    if (parallel) {
      Parallel.forRange(n, grain, body);
    } else {
      body.run(0, n);
    }
  }

  private static float[] buffer(ThreadLocal<float[]> cache, int size) {
    float[] buffer = cache.get();
    if (buffer.length < size) {
      buffer = new float[size];
      cache.set(buffer);
    }
    return buffer;
  }

  private static int ceilDiv(int x, int y) {
    return (x + y - 1) / y;
  }

  private static void check(
      boolean transA,
      boolean transB,
      int batch,
      int m,
      int n,
      int k,
      float[] a,
      int aOffset,
      int lda,
      int strideA,
      float[] b,
      int bOffset,
      int ldb,
      int strideB,
      float[] c,
      int cOffset,
      int ldc,
      int strideC) {
    if (batch < 0 || m < 0 || n < 0 || k < 0) {
      throw new IllegalArgumentException(
          "negative size: batch=" + batch + " m=" + m + " n=" + n + " k=" + k);
    }
    if (strideA < 0 || strideB < 0 || strideC < 0) {
      throw new IllegalArgumentException(
          "negative stride: strideA=" + strideA + " strideB=" + strideB + " strideC=" + strideC);
    }
    requireMatrix("a", a, aOffset, lda, transA ? k : m, transA ? m : k, batch, strideA);
    requireMatrix("b", b, bOffset, ldb, transB ? n : k, transB ? k : n, batch, strideB);
    requireMatrix("c", c, cOffset, ldc, m, n, batch, strideC);
  }

  private static void requireMatrix(
      String name, float[] x, int offset, int ld, int rows, int cols, int batch, int stride) {
    if (x == null) {
      throw new IllegalArgumentException(name + " is null");
    }
    if (ld < Math.max(1, cols)) {
      throw new IllegalArgumentException(
          "ld" + name + "=" + ld + " is less than the " + cols + " columns of " + name);
    }
    if (offset < 0) {
      throw new IllegalArgumentException(name + " offset is negative: " + offset);
    }
    if (batch == 0 || rows == 0 || cols == 0) {
      return;
    }
    long end = offset + (long) (batch - 1) * stride + (long) (rows - 1) * ld + cols;
    if (end > x.length) {
      throw new IllegalArgumentException(
          name
              + " ["
              + rows
              + " x "
              + cols
              + "] at offset "
              + offset
              + " with ld "
              + ld
              + (batch > 1 ? " and " + batch + " matrices " + stride + " apart" : "")
              + " needs "
              + end
              + " elements, has "
              + x.length);
    }
  }
}
