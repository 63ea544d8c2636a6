package dev.tessera.engine.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.Tensor;
import dev.tessera.engine.ops.Matmul;
import dev.tessera.engine.ops.Scale;
import org.junit.jupiter.api.Test;

class CheckingDeviceBackendTest {
  @Test
  void aTensorMarkedImmutableAndThenWrittenFailsAtItsRelease() {
    CheckingDeviceBackend backend = new CheckingDeviceBackend();
    Tensor kept = backend.fromHost(new float[] {1, 2, 3}, 3);
    backend.markImmutable(kept);
    Tensor other = backend.empty(3);
    Scale.forward(other, kept, 2f); // reads it: fine
    backend.release(kept);
    assertThat(backend.toHost(other)).containsExactly(2, 4, 6);

    Tensor broken = backend.fromHost(new float[] {1, 2, 3}, 3);
    backend.markImmutable(broken);
    Scale.forward(broken, broken, 2f);
    assertThatThrownBy(() -> backend.release(broken))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("marked immutable and written");
  }

  @Test
  void aGemmOnlyTensorMayBeWrittenOnceAndThenReadOnlyByGemms() {
    CheckingDeviceBackend backend = new CheckingDeviceBackend();
    Tensor x = backend.fromHost(new float[] {1, -2, 3, 4}, 2, 2);
    Tensor act = backend.empty(2, 2);
    backend.onlyForGemms(act);
    Scale.forward(act, x, 0.5f); // its writer
    Tensor weight = backend.fromHost(new float[] {1, 0, 0, 1}, 2, 2);
    Tensor out = backend.empty(2, 2);
    Matmul.forward(out, act, weight, null); // a GEMM operand: fine
    assertThat(backend.toHost(out)).containsExactly(0.5f, -1f, 1.5f, 2f);
    Tensor other = backend.empty(2, 2);
    assertThatThrownBy(() -> Scale.forward(other, act, 2f))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("onlyForGemms");
  }

  @Test
  void emptyTensorsStartAsNaN() {
    CheckingDeviceBackend backend = new CheckingDeviceBackend();
    assertThat(backend.toHost(backend.empty(4))).containsOnly(Float.NaN);
  }
}
