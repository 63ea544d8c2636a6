package dev.tessera.engine.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Device;
import dev.tessera.engine.Tensor;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.engine.optim.AdamW;
import dev.tessera.engine.optim.GradClip;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The ops hand tensors of a device backend to that backend's kernels, after their own argument
 * checks, with the arguments unchanged; bad arguments are refused before any kernel is called.
 */
class DeviceDispatchTest {
  /** A device backend whose kernels record their calls instead of computing. */
  private static final class RecordingBackend implements Backend {
    final List<String> calls = new ArrayList<>();
    final List<Object[]> arguments = new ArrayList<>();
    final DeviceKernels kernels =
        (DeviceKernels)
            Proxy.newProxyInstance(
                DeviceKernels.class.getClassLoader(),
                new Class<?>[] {DeviceKernels.class},
                (proxy, method, args) -> {
                  calls.add(method.getName());
                  arguments.add(args);
                  return method.getReturnType() == double.class ? 42.0 : null;
                });

    @Override
    public Device device() {
      return Device.CUDA;
    }

    @Override
    public DeviceKernels kernels() {
      return kernels;
    }

    @Override
    public Tensor zeros(int... shape) {
      return new Tensor(this, new Object(), 0, shape);
    }

    @Override
    public Tensor fromHost(float[] values, int... shape) {
      return zeros(shape);
    }

    @Override
    public float[] toHost(Tensor tensor) {
      return new float[tensor.intSize()];
    }

    @Override
    public void copyFromHost(float[] values, Tensor target) {}

    @Override
    public void copy(Tensor source, Tensor target) {}

    @Override
    public void zero(Tensor tensor) {}
  }

  private final RecordingBackend device = new RecordingBackend();

  private Tensor t(int... shape) {
    return device.zeros(shape);
  }

  @Test
  void everyOpDispatchesToTheKernelOfTheSameName() {
    Tensor x = t(4, 8);
    Matmul.forward(t(4, 6), x, t(6, 8), t(6));
    Matmul.backward(t(4, 8), t(6, 8), null, t(4, 6), x, t(6, 8));
    Embedding.forward(t(3, 8), t(10, 8), new int[] {1, 2, 9}, 0);
    Embedding.backward(t(10, 8), t(3, 8), new int[] {1, 2, 9}, 0);
    RmsNorm.forward(t(4, 8), t(4), x, t(8), 1e-6f);
    RmsNorm.backward(t(4, 8), t(8), t(4, 8), x, t(8), t(4));
    LayerNorm.forward(t(4, 8), t(4), t(4), x, t(8), t(8), 1e-6f);
    LayerNorm.backward(t(4, 8), t(8), t(8), t(4, 8), x, t(8), t(4), t(4));
    Rope.Table table = new Rope.Table(8, 10_000, 16);
    Rope.forward(t(4, 2, 8), t(4, 2, 8), new int[] {0, 1, 2, 3}, 0, table);
    Rope.backward(t(4, 2, 8), t(4, 2, 8), new int[] {0, 1, 2, 3}, 0, table);
    Gelu.forward(x, x);
    Gelu.backward(x, x, x);
    GeluErf.forward(x, x);
    GeluErf.backward(x, x, x);
    QuickGelu.forward(x, x);
    QuickGelu.backward(x, x, x);
    SwiGlu.forward(x, x, x);
    SwiGlu.backward(x, x, x, x, x);
    Add.forward(x, x, x);
    Add.accumulate(x, x, 2f);
    Scale.forward(x, x, 3f);
    Softmax.forward(x, x);
    Softmax.backward(x, x, x);
    AdaptiveAvgPool2d.forward(t(1, 4, 8), t(1, 16, 8), 4, 4, 2, 2);
    AdaptiveAvgPool2d.backward(t(1, 16, 8), t(1, 4, 8), 4, 4, 2, 2);
    double loss = CrossEntropy.forwardBackward(x, x, new int[] {1, -100, 7, 0}, 1f);
    Tensor q = t(1, 5, 4, 8);
    Tensor kv = t(1, 5, 2, 8);
    Attention.forward(q, t(1, 4, 5), q, kv, kv, AttentionMask.DOCUMENT, new int[][] {{0, 3}});
    Attention.backward(q, kv, kv, q, q, kv, kv, q, t(1, 4, 5), AttentionMask.CONTINUOUS, null);
    BidirectionalAttention.forward(t(1, 5, 4, 8), q, kv, kv);
    assertThat(loss).isEqualTo(42.0);
    assertThat(device.calls)
        .containsExactly(
            "matmulForward",
            "matmulBackward",
            "embeddingForward",
            "embeddingBackward",
            "rmsNormForward",
            "rmsNormBackward",
            "layerNormForward",
            "layerNormBackward",
            "rope",
            "rope",
            "geluForward",
            "geluBackward",
            "geluErfForward",
            "geluErfBackward",
            "quickGeluForward",
            "quickGeluBackward",
            "swiGluForward",
            "swiGluBackward",
            "add",
            "accumulate",
            "scale",
            "softmaxForward",
            "softmaxBackward",
            "avgPoolForward",
            "avgPoolBackward",
            "crossEntropy",
            "attentionForward",
            "attentionBackward",
            "bidirectionalAttentionForward");
    // The mask reaches the kernels as each query's first visible key, row after row.
    int forward = device.calls.indexOf("attentionForward");
    assertThat((int[]) device.arguments.get(forward)[5]).containsExactly(0, 0, 0, 3, 3);
    int backward = device.calls.indexOf("attentionBackward");
    assertThat((int[]) device.arguments.get(backward)[9]).containsExactly(0, 0, 0, 0, 0);
    assertThat(device.arguments.get(device.calls.indexOf("rope"))[5]).isEqualTo(false);
    assertThat(device.arguments.get(device.calls.lastIndexOf("rope"))[5]).isEqualTo(true);
  }

  @Test
  void argumentsAreCheckedBeforeAnyKernelRuns() {
    assertThatThrownBy(() -> Embedding.forward(t(2, 8), t(10, 8), new int[] {1, 10}, 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> CrossEntropy.forwardBackward(t(2, 5), t(2, 5), new int[] {0, 5}, 1f))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Matmul.forward(t(4, 5), t(4, 8), t(6, 8), null))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(device.calls).isEmpty();
  }

  @Test
  void tensorsOfTwoBackendsAreRefused() {
    Tensor cpu = CpuBackend.get().zeros(4, 8);
    assertThatThrownBy(() -> Add.forward(t(4, 8), cpu, t(4, 8)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("different backends");
    assertThat(device.calls).isEmpty();
  }

  @Test
  void theOptimizerAndClippingUseTheDeviceKernels() {
    Tensor w = t(3, 4);
    Tensor b = t(4);
    AdamW optimizer =
        new AdamW(List.of(new AdamW.Param("w", w, t(3, 4)), new AdamW.Param("b", b, t(4))));
    optimizer.step(0.1);
    double norm = GradClip.globalNorm(List.of(t(3, 4), t(4)));
    GradClip.scale(List.of(w), 0.5f);
    assertThat(device.calls).containsExactly("adamw", "adamw", "sumSquares", "sumSquares", "scale");
    // The matrix decays (keep = 1 - lr * 0.01), the bias does not.
    assertThat((float) device.arguments.get(0)[8]).isEqualTo((float) (1 - 0.1 * 0.01));
    assertThat((float) device.arguments.get(1)[8]).isEqualTo(1f);
    assertThat(norm).isEqualTo(Math.sqrt(84.0));
    assertThat(Arrays.asList(device.arguments.get(4))).containsExactly(w, w, 0.5f);
  }
}
