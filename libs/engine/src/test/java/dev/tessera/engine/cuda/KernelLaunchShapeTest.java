package dev.tessera.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class KernelLaunchShapeTest {
  @Test
  void dynamicSharedMemoryIsZeroByDefaultAndBoundedByTheDevice() {
    assertThat(new KernelLaunch.Shape(4, 2, 1, 64).sharedBytes()).isZero();
    assertThat(new KernelLaunch.Shape(4, 2, 1, 64, 227 * 1024).sharedBytes()).isEqualTo(232_448);
    assertThatThrownBy(() -> new KernelLaunch.Shape(4, 2, 1, 64, 227 * 1024 + 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("dynamic shared memory");
    assertThatThrownBy(() -> new KernelLaunch.Shape(4, 2, 1, 64, -1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theTensorCoreDkDvKernelTakesMoreThanTheDefaultSharedMemoryAtHeadDimension128() {
    // attention_mma.cu's header: 12 * 32 * (HD + 8) + 768 bytes.
    assertThat(AttentionLaunch.dkdvSharedBytes(128)).isEqualTo(52_992);
    assertThat(AttentionLaunch.dkdvSharedBytes(64)).isEqualTo(28_416);
    assertThat(AttentionLaunch.dkdvSharedBytes(128))
        .isGreaterThan(KernelLaunch.DEFAULT_SHARED_LIMIT);
  }
}
