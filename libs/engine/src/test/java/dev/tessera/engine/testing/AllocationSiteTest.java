package dev.tessera.engine.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.engine.cuda.CudaBackend;
import org.junit.jupiter.api.Test;

/**
 * The site {@code TESSERA_CUDA_TRACE_MEMORY=1} gives a device block: the first two callers outside
 * the CUDA backend's package (the op, then its caller), from here since no backend method is on the
 * stack.
 */
class AllocationSiteTest {
  private static String op() {
    return CudaBackend.allocationSite();
  }

  private static String caller() {
    return op();
  }

  @Test
  void theSiteNamesTheOpAndItsCallerWithTheirLines() {
    assertThat(caller())
        .matches("AllocationSiteTest\\.op:\\d+ <- AllocationSiteTest\\.caller:\\d+");
  }
}
