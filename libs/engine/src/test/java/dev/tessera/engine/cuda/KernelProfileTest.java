package dev.tessera.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class KernelProfileTest {
  @Test
  void operationsAreSummedByNameAndListedMostExpensiveFirst() {
    KernelProfile profile = new KernelProfile();
    profile.add("rmsnorm_forward", 1_000_000);
    profile.add("gemm AB^T 4096x8960x1536", 6_000_000);
    profile.add("rmsnorm_forward", 2_000_000);
    assertThat(profile.entries())
        .extracting(KernelProfile.Entry::name)
        .containsExactly("gemm AB^T 4096x8960x1536", "rmsnorm_forward");
    assertThat(profile.entries().get(1).calls()).isEqualTo(2);
    assertThat(profile.entries().get(1).seconds()).isEqualTo(0.003);
    String report = profile.report(1);
    assertThat(report).contains("gemm AB^T 4096x8960x1536").contains("66.7%");
    assertThat(report).doesNotContain("rmsnorm_forward");
    assertThat(report.lines().reduce((a, b) -> b).orElseThrow()).contains("9.00");
  }
}
