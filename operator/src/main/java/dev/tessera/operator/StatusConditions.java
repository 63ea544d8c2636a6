package dev.tessera.operator;

import dev.tessera.api.v1alpha1.TesseraStatus;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
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
    String flag = value ? "True" : "False";
    Condition existing = status.condition(type);
    String since =
        existing != null && flag.equals(existing.getStatus())
            ? existing.getLastTransitionTime()
            : now.toString();
    Condition updated =
        new ConditionBuilder()
            .withType(type)
            .withStatus(flag)
            .withReason(reason)
            .withMessage(message == null ? "" : message)
            .withObservedGeneration(generation)
            .withLastTransitionTime(since)
            .build();
    if (existing != null) {
      status.conditions.set(status.conditions.indexOf(existing), updated);
    } else {
      status.conditions.add(updated);
    }
  }

  static void remove(TesseraStatus status, String type) {
    status.conditions.removeIf(c -> c.getType().equals(type));
  }
}
