package dev.tessera.operator;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import java.util.Collection;
import java.util.Comparator;
import java.util.Set;

/**
 * Why an active Job's pods are not running: a pod the scheduler cannot place (no node has the GPUs,
 * memory or labels it asks for), or a container that cannot start (its image cannot be pulled, its
 * configuration is wrong). The Job controller counts such pods as active and waits on them for
 * ever; the resource's status says what is wrong instead of "running".
 *
 * @param reason the Running condition's reason: the container's waiting reason, or Unschedulable
 * @param message what is wrong, naming the pod and its index
 */
record PodTrouble(String reason, String message) {

  /** Waiting reasons of a container that will not start without a change to the pod or image. */
  static final Set<String> STUCK =
      Set.of(
          "ErrImagePull",
          "ImagePullBackOff",
          "InvalidImageName",
          "CreateContainerConfigError",
          "CreateContainerError");

  private static final Set<String> IMAGE = Set.of("ErrImagePull", "ImagePullBackOff");

  /** The first trouble among {@code pods} (in name order), or null when none is stuck. */
  static PodTrouble of(Collection<Pod> pods) {
    for (Pod pod :
        pods.stream().sorted(Comparator.comparing(p -> p.getMetadata().getName())).toList()) {
      String name = "pod " + pod.getMetadata().getName() + JobFailure.rank(pod);
      if (pod.getStatus() == null) {
        continue;
      }
      if (pod.getStatus().getContainerStatuses() != null) {
        for (ContainerStatus container : pod.getStatus().getContainerStatuses()) {
          var waiting = container.getState() == null ? null : container.getState().getWaiting();
          if (waiting == null || !STUCK.contains(waiting.getReason())) {
            continue;
          }
          String detail = waiting.getMessage() == null ? "" : ": " + waiting.getMessage();
          if (IMAGE.contains(waiting.getReason())) {
            return new PodTrouble(
                waiting.getReason(),
                name
                    + " cannot pull its image "
                    + container.getImage()
                    + detail
                    + " (build and push the worker images as docs/images.md says, or name"
                    + " another with spec.image)");
          }
          return new PodTrouble(
              waiting.getReason(), name + " cannot start: " + waiting.getReason() + detail);
        }
      }
      if (pod.getStatus().getConditions() != null) {
        for (PodCondition condition : pod.getStatus().getConditions()) {
          if ("PodScheduled".equals(condition.getType())
              && "False".equals(condition.getStatus())
              && "Unschedulable".equals(condition.getReason())) {
            return new PodTrouble(
                "Unschedulable",
                name
                    + " cannot be scheduled"
                    + (condition.getMessage() == null ? "" : ": " + condition.getMessage()));
          }
        }
      }
    }
    return null;
  }
}
