package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The status every Tessera resource reports (DESIGN.md §4). The operator is its only writer; the
 * workers report through the resource's progress ConfigMap.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class TesseraStatus {
  @JsonPropertyDescription("Pending, Waiting, Running, Succeeded, Failed or Suspended.")
  public Phase phase;

  @JsonPropertyDescription("The metadata.generation this status describes.")
  public Long observedGeneration;

  @JsonPropertyDescription(
      "InputReady, Running, Complete, Failed, Suspended and SpecApplied, with reasons.")
  public List<Condition> conditions = new ArrayList<>();

  @JsonPropertyDescription("When the first pod was asked for (RFC 3339).")
  public String startTime;

  @JsonPropertyDescription("When the stage succeeded or failed (RFC 3339).")
  public String completionTime;

  @JsonPropertyDescription("Stages whose Jobs completed, in order (CurationJob: score, select).")
  public List<String> stagesDone;

  @JsonPropertyDescription("Failed attempts restarted; counted against spec.backoffLimit.")
  public Integer restarts;

  @JsonPropertyDescription(
      "Attempts restarted after a pod disruption or preemption; not counted against"
          + " spec.backoffLimit.")
  public Integer disruptions;

  @JsonPropertyDescription("The workers' latest figures.")
  public Progress progress;

  @JsonPropertyDescription("The last completed checkpoints, newest last (training kinds).")
  public List<CheckpointRecord> checkpoints;

  @JsonPropertyDescription("The newest checkpoint; a restarted run resumes from it.")
  public CheckpointRecord latestCheckpoint;

  @JsonPropertyDescription(
      "With checkpoints.keepBest, the checkpoint with the lowest held-out loss, kept whatever its"
          + " age.")
  public CheckpointRecord bestCheckpoint;

  @JsonPropertyDescription("Where the output is, once the stage succeeded.")
  public OutputRecord output;

  /** Attempts started before the current one: the child Jobs are named by it. */
  public int attempt() {
    return (restarts == null ? 0 : restarts) + (disruptions == null ? 0 : disruptions);
  }

  /** The condition of {@code type}, or null. */
  public Condition condition(String type) {
    for (Condition c : conditions) {
      if (c.getType().equals(type)) {
        return c;
      }
    }
    return null;
  }

  /**
   * Sets a condition, moving its lastTransitionTime only when its status flips (as {@code
   * metav1.Condition} wants).
   */
  public void setCondition(
      String type, boolean value, String reason, String message, long generation, Instant now) {
    String flag = value ? "True" : "False";
    Condition existing = condition(type);
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
      conditions.set(conditions.indexOf(existing), updated);
    } else {
      conditions.add(updated);
    }
  }

  public boolean isTrue(String type) {
    Condition c = condition(type);
    return c != null && "True".equals(c.getStatus());
  }
}
