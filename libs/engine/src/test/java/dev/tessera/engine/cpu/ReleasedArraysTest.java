package dev.tessera.engine.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.engine.Tensor;
import org.junit.jupiter.api.Test;

class ReleasedArraysTest {
  @Test
  void handsOutTheLastReleasedArrayOfTheRightLengthOnce() {
    ReleasedArrays arrays = new ReleasedArrays(100);
    float[] first = new float[10];
    float[] second = new float[10];
    float[] other = new float[20];
    arrays.give(first);
    arrays.give(second);
    arrays.give(other);
    arrays.give(second); // a double release is held once
    assertThat(arrays.floats()).isEqualTo(40);

    assertThat(arrays.take(10)).isSameAs(second);
    assertThat(arrays.take(10)).isSameAs(first);
    assertThat(arrays.take(10)).isNull();
    assertThat(arrays.take(30)).isNull();
    assertThat(arrays.take(20)).isSameAs(other);
    assertThat(arrays.floats()).isZero();
  }

  @Test
  void holdsNoMoreThanItsCapacity() {
    ReleasedArrays arrays = new ReleasedArrays(25);
    arrays.give(new float[10]);
    arrays.give(new float[10]);
    arrays.give(new float[10]);
    assertThat(arrays.floats()).isEqualTo(20);
    assertThat(arrays.take(10)).isNotNull();
    assertThat(arrays.take(10)).isNotNull();
    assertThat(arrays.take(10)).isNull();
  }

  @Test
  void theCpuBackendReusesReleasedWholeTensorsButNotViews() {
    CpuBackend cpu = CpuBackend.get();
    int rows = 7919; // a length no other test allocates
    Tensor whole = cpu.empty(rows, 3);
    float[] array = CpuBackend.data(whole);
    cpu.release(whole);
    Tensor again = cpu.empty(3, rows);
    assertThat(CpuBackend.data(again)).isSameAs(array);

    Tensor big = cpu.zeros(2 * rows * 3);
    Tensor view = new Tensor(cpu, CpuBackend.data(big), rows * 3, rows, 3);
    cpu.release(view);
    assertThat(CpuBackend.data(cpu.empty(rows, 3))).isNotSameAs(CpuBackend.data(big));
    cpu.release(again);
    Tensor zeros = cpu.zeros(rows, 3);
    assertThat(zeros.storage()).as("zeros is always a fresh array").isNotSameAs(array);
    assertThat(CpuBackend.data(zeros)).containsOnly(0f);
    assertThat(CpuBackend.data(cpu.empty(rows, 3))).isSameAs(array);
  }
}
