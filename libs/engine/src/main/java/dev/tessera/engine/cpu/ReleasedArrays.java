package dev.tessera.engine.cpu;

import java.lang.ref.SoftReference;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Arrays handed back by {@link CpuBackend#release}, by length, for {@link CpuBackend#empty} to hand
 * out again: the last released first (the one most likely still in cache). Held softly, so the
 * garbage collector still reclaims them before memory runs out, and at most {@code capacity}
 * floats; past that a released array is left to the collector. An array given twice is held once,
 * so a double release cannot hand one array to two tensors.
 */
final class ReleasedArrays {
  private final long capacity;
  private final Map<Integer, ArrayDeque<SoftReference<float[]>>> byLength = new HashMap<>();
  private long floats;

  ReleasedArrays(long capacity) {
    this.capacity = capacity;
  }

  /** A held array of exactly {@code length} floats, no longer held; null when there is none. */
  synchronized float[] take(int length) {
    ArrayDeque<SoftReference<float[]>> arrays = byLength.get(length);
    while (arrays != null && !arrays.isEmpty()) {
      floats -= length;
      float[] array = arrays.pollLast().get();
      if (array != null) {
        return array;
      }
    }
    return null;
  }

  /**
   * Holds {@code array} for a later {@link #take}, unless it is held already or there is no room.
   */
  synchronized void give(float[] array) {
    if (array.length == 0 || floats + array.length > capacity) {
      return;
    }
    ArrayDeque<SoftReference<float[]>> arrays =
        byLength.computeIfAbsent(array.length, n -> new ArrayDeque<>());
    for (SoftReference<float[]> held : arrays) {
      if (held.get() == array) {
        return;
      }
    }
    arrays.addLast(new SoftReference<>(array));
    floats += array.length;
  }

  /** Floats held now (arrays the collector cleared count until a {@link #take} finds them). */
  synchronized long floats() {
    return floats;
  }
}
