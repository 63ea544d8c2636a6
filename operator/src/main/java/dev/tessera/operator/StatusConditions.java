package dev.tessera.operator;

import dev.tessera.api.v1alpha1.TesseraStatus;
import java.time.Instant;

/** Sets {@code metav1.Condition}s, moving lastTransitionTime only when the status flips. */
final class StatusConditions {
  private StatusConditions() {}

  static void set(
      TesseraStatus status,
      String type,
      boolean value,
      String reason,
      String message,
      long generation,
      Instant now) {
    status.setCondition(type, value, reason, message, generation, now);
  }

  static void remove(TesseraStatus status, String type) {
    status.conditions.removeIf(c -> c.getType().equals(type));
  }
}
