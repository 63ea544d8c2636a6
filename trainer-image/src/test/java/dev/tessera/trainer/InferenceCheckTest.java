package dev.tessera.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.engine.testing.CheckingDeviceBackend;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * gpu-check's scorer-model check, run here through the device path of a stand-in device (the CPU
 * kernels behind {@code DeviceKernels}, with released buffers and unwritten reads caught): every
 * output agrees with the CPU, and a wrong result is reported as a failure.
 */
class InferenceCheckTest {
  @Test
  void everyScorerModelOutputMatchesTheCpuThroughTheDevicePath() {
    List<InferenceCheck.Result> results =
        new InferenceCheck(new CheckingDeviceBackend(), 7).runAll();
    assertThat(results).hasSize(7);
    assertThat(results).allSatisfy(r -> assertThat(r.passed()).as(r.toString()).isTrue());
    assertThat(results.get(0).toString()).contains("clip image embeddings").contains("ok");
  }

  @Test
  void aDifferenceBeyondTheToleranceFails() {
    assertThat(InferenceCheck.relativeError(new float[] {1f, 2f}, new float[] {1f, 2f})).isZero();
    InferenceCheck.Result off =
        new InferenceCheck.Result(
            "x", InferenceCheck.relativeError(new float[] {1f, 2.01f}, new float[] {1f, 2f}));
    assertThat(off.passed()).isFalse();
    assertThat(off.toString()).contains("FAILED");
  }
}
