package dev.tessera.operator;

import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import java.util.Collection;
import java.util.Comparator;
import java.util.Set;

/**
 * Why a child Job failed, read from its pods as the Job controller left them: a disruption
 * (preemption, eviction, node drain — not the worker's fault, not counted), a permanent error (the
 * worker refused its input; retrying cannot help), or an ordinary failure (counted against {@code
 * backoffLimit}).
 *
 * @param reason the condition reason: OOMKilled, ExitCode, a disruption reason, or the Job's
 * @param message what happened, naming the pod and its rank
 */
record JobFailure(String reason, String message, boolean disruption, boolean permanent) {

  /** Exit codes the workers use for bad input or a missing device: rerunning gives the same. */
  static final Set<Integer> PERMANENT_EXIT_CODES = Set.of(2, 3, 4);

  /**
   * The trainer's exit code for a rank that lost a peer (another rank failed, went away or stopped
   * answering): never the cause while another pod failed otherwise, and retried when it is all
   * there is (the ranks lost each other: a network fault).
   */
  static final int PEER_LOST_EXIT_CODE = 5;

  static final String COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index";

  static JobFailure of(Job job, Collection<Pod> pods) {
    // A disruption anywhere explains the failure of a gang: the other ranks lost their peer.
    for (Pod pod : pods) {
      PodCondition disrupted = condition(pod, "DisruptionTarget");
      if (disrupted != null) {
        return new JobFailure(
            or(disrupted.getReason(), "Disrupted"),
            "pod "
                + pod.getMetadata().getName()
                + rank(pod)
                + " was disrupted: "
                + or(disrupted.getMessage(), or(disrupted.getReason(), "preempted or evicted")),
            true,
            false);
      }
    }
    // The first pod that failed of its own accord: when a rank dies, the others stop in their
    // next collective as ranks that lost a peer, often within the same second.
    Comparator<Pod> causeFirst =
        Comparator.<Pod, Boolean>comparing(p -> terminated(p).getExitCode() == PEER_LOST_EXIT_CODE)
            .thenComparing(p -> or(terminated(p).getFinishedAt(), ""));
    Pod first =
        pods.stream()
            .filter(p -> terminated(p) != null && terminated(p).getExitCode() != 0)
            .min(causeFirst)
            .orElse(null);
    if (first != null) {
      ContainerStateTerminated state = terminated(first);
      int code = state.getExitCode();
      String name = "pod " + first.getMetadata().getName() + rank(first);
      if ("OOMKilled".equals(state.getReason())) {
        return new JobFailure(
            "OOMKilled",
            name + " was OOMKilled (exit code " + code + "): raise spec.resources.limits.memory",
            false,
            false);
      }
      String detail = state.getMessage() == null ? "" : ": " + lastLine(state.getMessage());
      return new JobFailure(
          "ExitCode",
          name + " exited with code " + code + detail,
          false,
          PERMANENT_EXIT_CODES.contains(code));
    }
    JobCondition failed = jobCondition(job, "Failed");
    return new JobFailure(
        failed == null ? "JobFailed" : or(failed.getReason(), "JobFailed"),
        "Job "
            + job.getMetadata().getName()
            + " failed"
            + (failed == null || failed.getMessage() == null ? "" : ": " + failed.getMessage()),
        false,
        false);
  }

  static JobCondition jobCondition(Job job, String type) {
    if (job.getStatus() == null || job.getStatus().getConditions() == null) {
      return null;
    }
    return job.getStatus().getConditions().stream()
        .filter(c -> type.equals(c.getType()) && "True".equals(c.getStatus()))
        .findFirst()
        .orElse(null);
  }

  private static PodCondition condition(Pod pod, String type) {
    if (pod.getStatus() == null || pod.getStatus().getConditions() == null) {
      return null;
    }
    return pod.getStatus().getConditions().stream()
        .filter(c -> type.equals(c.getType()) && "True".equals(c.getStatus()))
        .findFirst()
        .orElse(null);
  }

  private static ContainerStateTerminated terminated(Pod pod) {
    if (pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null) {
      return null;
    }
    for (ContainerStatus s : pod.getStatus().getContainerStatuses()) {
      if (s.getState() != null && s.getState().getTerminated() != null) {
        return s.getState().getTerminated();
      }
    }
    return null;
  }

  /** " (index N)" for a pod of an Indexed Job, else empty. */
  static String rank(Pod pod) {
    var annotations = pod.getMetadata().getAnnotations();
    String index = annotations == null ? null : annotations.get(COMPLETION_INDEX);
    if (index == null && pod.getMetadata().getLabels() != null) {
      index = pod.getMetadata().getLabels().get(COMPLETION_INDEX);
    }
    return index == null ? "" : " (index " + index + ")";
  }

  private static String lastLine(String message) {
    String trimmed = message.strip();
    int newline = trimmed.lastIndexOf('\n');
    String line = newline < 0 ? trimmed : trimmed.substring(newline + 1);
    return line.length() > 300 ? line.substring(0, 300) + "…" : line;
  }

  private static String or(String value, String fallback) {
    return value == null || value.isBlank() ? fallback : value;
  }
}
