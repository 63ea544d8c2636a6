package dev.tessera.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.engine.cpu.CpuBackend;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The GPU check's harness, run with the CPU backend on both sides: every op it exercises must run
 * with the shapes it builds, and identical backends must agree exactly. On a GPU the same harness
 * compares the CUDA kernels (scripts/gpu-check.sh).
 */
class KernelCheckTest {
  @Test
  void theHarnessRunsEveryOpAndFindsNoDifferenceBetweenIdenticalBackends() {
    List<KernelCheck.Result> results = new KernelCheck(CpuBackend.get(), 11).runAll();
    assertThat(results).hasSizeGreaterThan(40);
    assertThat(results).allSatisfy(result -> assertThat(result.relativeError()).isZero());
    assertThat(results.stream().map(KernelCheck.Result::op))
        .anyMatch(op -> op.startsWith("attention document"))
        .anyMatch(op -> op.startsWith("cross-entropy"))
        .anyMatch(op -> op.startsWith("adamw"))
        .anyMatch(op -> op.equals("host-device copies"));
  }

  @Test
  void theTrainingPrecisionChecksCoverBothHeadDimensionsAndALongPackedRow() {
    KernelCheck check = new KernelCheck(CpuBackend.get(), 12);
    check.matmul(1e-2);
    List<KernelCheck.Result> results = check.attention(1e-2);
    assertThat(results).allSatisfy(result -> assertThat(result.relativeError()).isZero());
    assertThat(results.stream().map(KernelCheck.Result::op))
        .anyMatch(op -> op.startsWith("matmul"))
        .anyMatch(op -> op.contains("D=64"))
        .anyMatch(op -> op.contains("document T=4096 Hq=12 Hkv=2 D=128"));
    assertThat(results).allSatisfy(result -> assertThat(result.tolerance()).isEqualTo(1e-2));
  }

  @Test
  void nanNeverPasses() {
    assertThat(new KernelCheck.Result("op", "out", Double.NaN, 1e-5).passed()).isFalse();
    assertThat(new KernelCheck.Result("op", "out", 2e-5, 1e-5).passed()).isFalse();
    assertThat(new KernelCheck.Result("op", "out", 1e-6, 1e-5).passed()).isTrue();
  }
}
