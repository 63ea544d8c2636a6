package dev.tessera.engine.cuda;

import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cublas.cublasLtContext;
import org.bytedeco.cuda.cublas.cublasLtMatmulDescOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulHeuristicResult_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulPreferenceOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatrixLayoutOpaque_t;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * fp32-storage GEMMs through cuBLASLt. The compute mode is the backend's choice: exact fp32 (what
 * the kernel checks compare), TF32, or bf16 tensor cores with fp32 accumulation ({@code
 * CUBLAS_COMPUTE_32F_FAST_16BF}: cuBLAS rounds the fp32 operands to bf16 on the fly). A plan
 * (descriptors and the heuristic's algorithm) is made once per shape and reused.
 */
final class CublasLt implements AutoCloseable {
  /** How the tensor cores may compute an fp32 GEMM. */
  enum Precision {
    FP32,
    TF32,
    BF16;

    int computeType() {
      return switch (this) {
        case FP32 -> cublas.CUBLAS_COMPUTE_32F;
        case TF32 -> cublas.CUBLAS_COMPUTE_32F_FAST_TF32;
        case BF16 -> cublas.CUBLAS_COMPUTE_32F_FAST_16BF;
      };
    }
  }

  static final long WORKSPACE_BYTES = 32L << 20;

  private record Plan(
      cublasLtMatmulDescOpaque_t desc,
      cublasLtMatrixLayoutOpaque_t a,
      cublasLtMatrixLayoutOpaque_t b,
      cublasLtMatrixLayoutOpaque_t c,
      cublasLtMatmulHeuristicResult_t heuristic) {}

  private record Key(RowMajorGemm gemm, Precision precision, boolean bf16Inputs, boolean bias) {}

  private final cublasLtContext handle = new cublasLtContext();
  private final DeviceAllocator.Block workspace;
  private final DeviceAllocator allocator;
  private final CUstream_st stream;
  private final Map<Key, Plan> plans = new HashMap<>();
  private final FloatPointer alpha = new FloatPointer(1);
  private final FloatPointer beta = new FloatPointer(1);
  private final LongPointer biasPointer = new LongPointer(1);

  CublasLt(DeviceAllocator allocator, CUstream_st stream) {
    this.allocator = allocator;
    this.stream = stream;
    Cuda.checkCublas(cublas.cublasLtCreate(handle), "cublasLtCreate");
    this.workspace = allocator.allocate(WORKSPACE_BYTES);
  }

  /**
   * Queues {@code C = alpha op(A) op(B) + beta C (+ bias)} (row-major; C holds fp32 values). With
   * {@code bf16Inputs} A and B hold bf16 values (the form whose rate is the card's bf16 matrix
   * peak), otherwise fp32 ones that {@code precision} says how to multiply. {@code bias}, when not
   * 0, is the address of fp32 values, one per column of C, that cuBLASLt's epilogue adds to every
   * row (instead of a kernel of its own before the product).
   */
  synchronized void gemm(
      RowMajorGemm gemm,
      Precision precision,
      boolean bf16Inputs,
      float alphaValue,
      long a,
      long b,
      float betaValue,
      long c,
      long bias) {
    if (gemm.m() == 0 || gemm.n() == 0) {
      return;
    }
    boolean withBias = bias != 0;
    Plan plan =
        plans.computeIfAbsent(
            new Key(gemm, precision, bf16Inputs, withBias),
            key -> plan(gemm, precision, bf16Inputs, withBias));
    RowMajorGemm.ColumnMajor cm = gemm.toColumnMajor();
    if (withBias) {
      biasPointer.put(0, bias);
      Cuda.checkCublas(
          cublas.cublasLtMatmulDescSetAttribute(
              plan.desc(), cublas.CUBLASLT_MATMUL_DESC_BIAS_POINTER, biasPointer, 8),
          "setting the bias of " + describe(gemm, cm, precision));
    }
    alpha.put(0, alphaValue);
    beta.put(0, betaValue);
    Cuda.checkCublas(
        cublas.cublasLtMatmul(
            handle,
            plan.desc(),
            alpha,
            Cuda.at(b),
            plan.a(),
            Cuda.at(a),
            plan.b(),
            beta,
            Cuda.at(c),
            plan.c(),
            Cuda.at(c),
            plan.c(),
            plan.heuristic().algo(),
            Cuda.at(workspace.address()),
            WORKSPACE_BYTES,
            stream),
        "cublasLtMatmul " + describe(gemm, cm, precision));
  }

  private Plan plan(RowMajorGemm gemm, Precision precision, boolean bf16Inputs, boolean bias) {
    RowMajorGemm.ColumnMajor cm = gemm.toColumnMajor();
    String what = describe(gemm, cm, precision) + (bias ? " with a bias" : "");
    PointerPointer<cublasLtMatmulDescOpaque_t> out = new PointerPointer<>(1);
    Cuda.checkCublas(
        cublas.cublasLtMatmulDescCreate(out, precision.computeType(), cudart.CUDA_R_32F),
        "cublasLtMatmulDescCreate for " + what);
    cublasLtMatmulDescOpaque_t desc = out.get(cublasLtMatmulDescOpaque_t.class, 0);
    setInt(desc, cublas.CUBLASLT_MATMUL_DESC_TRANSA, op(cm.transA()), what);
    setInt(desc, cublas.CUBLASLT_MATMUL_DESC_TRANSB, op(cm.transB()), what);
    if (bias) {
      // The row-major C's columns are the column-major D's rows: one bias value per row of D.
      setInt(desc, cublas.CUBLASLT_MATMUL_DESC_EPILOGUE, cublas.CUBLASLT_EPILOGUE_BIAS, what);
      setInt(desc, cublas.CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, cudart.CUDA_R_32F, what);
    }
    int inputType = bf16Inputs ? cudart.CUDA_R_16BF : cudart.CUDA_R_32F;
    cublasLtMatrixLayoutOpaque_t a = layout(inputType, cm.rowsA(), cm.colsA(), cm.lda(), what);
    cublasLtMatrixLayoutOpaque_t b = layout(inputType, cm.rowsB(), cm.colsB(), cm.ldb(), what);
    cublasLtMatrixLayoutOpaque_t c = layout(cudart.CUDA_R_32F, cm.m(), cm.n(), cm.ldc(), what);
    PointerPointer<cublasLtMatmulPreferenceOpaque_t> prefOut = new PointerPointer<>(1);
    Cuda.checkCublas(
        cublas.cublasLtMatmulPreferenceCreate(prefOut), "cublasLtMatmulPreferenceCreate");
    cublasLtMatmulPreferenceOpaque_t preference =
        prefOut.get(cublasLtMatmulPreferenceOpaque_t.class, 0);
    LongPointer bytes = new LongPointer(1).put(WORKSPACE_BYTES);
    Cuda.checkCublas(
        cublas.cublasLtMatmulPreferenceSetAttribute(
            preference, cublas.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, bytes, 8),
        "setting the GEMM workspace size");
    cublasLtMatmulHeuristicResult_t heuristic = new cublasLtMatmulHeuristicResult_t(1);
    IntPointer found = new IntPointer(1);
    Cuda.checkCublas(
        cublas.cublasLtMatmulAlgoGetHeuristic(
            handle, desc, a, b, c, c, preference, 1, heuristic, found),
        "cublasLtMatmulAlgoGetHeuristic for " + what);
    cublas.cublasLtMatmulPreferenceDestroy(preference);
    if (found.get() < 1) {
      throw new CudaException("cuBLASLt has no algorithm for " + what, -1);
    }
    return new Plan(desc, a, b, c, heuristic);
  }

  private static int op(boolean transpose) {
    return transpose ? cublas.CUBLAS_OP_T : cublas.CUBLAS_OP_N;
  }

  private static void setInt(
      cublasLtMatmulDescOpaque_t desc, int attribute, int value, String what) {
    IntPointer v = new IntPointer(1).put(value);
    Cuda.checkCublas(
        cublas.cublasLtMatmulDescSetAttribute(desc, attribute, v, 4),
        "cublasLtMatmulDescSetAttribute for " + what);
  }

  private static cublasLtMatrixLayoutOpaque_t layout(
      int type, int rows, int cols, int ld, String what) {
    PointerPointer<cublasLtMatrixLayoutOpaque_t> out = new PointerPointer<>(1);
    Cuda.checkCublas(
        cublas.cublasLtMatrixLayoutCreate(out, type, rows, cols, ld),
        "cublasLtMatrixLayoutCreate " + rows + "x" + cols + " ld " + ld + " for " + what);
    return out.get(cublasLtMatrixLayoutOpaque_t.class, 0);
  }

  private static String describe(
      RowMajorGemm gemm, RowMajorGemm.ColumnMajor cm, Precision precision) {
    return "row-major "
        + gemm.label()
        + " lda="
        + gemm.lda()
        + " ldb="
        + gemm.ldb()
        + " ldc="
        + gemm.ldc()
        + " ("
        + precision
        + ", column-major m="
        + cm.m()
        + " n="
        + cm.n()
        + ")";
  }

  @Override
  public synchronized void close() {
    for (Plan plan : plans.values()) {
      cublas.cublasLtMatrixLayoutDestroy(plan.a());
      cublas.cublasLtMatrixLayoutDestroy(plan.b());
      cublas.cublasLtMatrixLayoutDestroy(plan.c());
      cublas.cublasLtMatmulDescDestroy(plan.desc());
    }
    plans.clear();
    allocator.release(workspace);
    cublas.cublasLtDestroy(handle);
  }
}
