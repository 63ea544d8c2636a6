package dev.tessera.engine.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.Tensor;
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
  void emptyTensorsStartAsNaN() {
    CheckingDeviceBackend backend = new CheckingDeviceBackend();
    assertThat(backend.toHost(backend.empty(4))).containsOnly(Float.NaN);
  }
}
