package dev.tessera.engine.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class GemmProfileTest {
  @AfterEach
  void stopRecording() {
    GemmProfile.stop();
  }

  @Test
  void countsProductsByShapeWhileRecording() {
    float[] a = new float[64 * 48];
    float[] b = new float[48 * 32];
    float[] c = new float[64 * 32];
    Gemm.sgemm(false, false, 64, 32, 48, 1f, a, 0, 48, b, 0, 32, 0f, c, 0, 32);
    GemmProfile.start();
    Gemm.sgemm(false, false, 64, 32, 48, 1f, a, 0, 48, b, 0, 32, 0f, c, 0, 32);
    Gemm.sgemm(false, false, 64, 32, 48, 1f, a, 0, 48, b, 0, 32, 0f, c, 0, 32);
    Gemm.sgemm(true, false, 48, 32, 64, 1f, a, 0, 48, c, 0, 32, 1f, b, 0, 32);
    Gemm.sgemmBatched(false, true, 3, 4, 5, 6, 1f, a, 0, 6, 24, b, 0, 6, 30, 0f, c, 0, 5, 20);
    List<GemmProfile.Row> rows = GemmProfile.stop();
    Gemm.sgemm(false, false, 64, 32, 48, 1f, a, 0, 48, b, 0, 32, 0f, c, 0, 32);

    assertThat(rows).hasSize(3);
    assertThat(rows)
        .extracting(r -> r.shape().toString(), GemmProfile.Row::products)
        .containsExactlyInAnyOrder(
            org.assertj.core.groups.Tuple.tuple("NN 64x32x48", 2L),
            org.assertj.core.groups.Tuple.tuple("TN 48x32x64 +C", 1L),
            org.assertj.core.groups.Tuple.tuple("NT 4x5x6", 3L));
    assertThat(rows).allSatisfy(r -> assertThat(r.nanos()).isPositive());
    GemmProfile.Row first = rows.get(0);
    assertThat(first.nanos()).isGreaterThanOrEqualTo(rows.get(rows.size() - 1).nanos());
    assertThat(first.gflops()).isEqualTo(first.shape().flop() * first.products() / first.nanos());
    assertThat(GemmProfile.stop())
        .as("the product after stop is not recorded")
        .filteredOn(r -> r.shape().toString().equals("NN 64x32x48"))
        .singleElement()
        .extracting(GemmProfile.Row::products)
        .isEqualTo(2L);
  }
}
