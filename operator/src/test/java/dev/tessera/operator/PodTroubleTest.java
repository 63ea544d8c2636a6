package dev.tessera.operator;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PodTroubleTest {
  private static PodBuilder pod(String name, int index) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .withAnnotations(Map.of(JobFailure.COMPLETION_INDEX, String.valueOf(index)))
        .endMetadata();
  }

  private static Pod waiting(String name, int index, String reason, String message) {
    return pod(name, index)
        .withStatus(
            ClusterSimulation.waiting(
                "ghcr.io/tessera-dev/tessera-trainer:0.1.0-cuda13", reason, message))
        .build();
  }

  private static Pod running(String name, int index) {
    return pod(name, index).withStatus(ClusterSimulation.running()).build();
  }

  @Test
  void anImageThatCannotBePulledIsNamedWithWhatToDo() {
    PodTrouble trouble =
        PodTrouble.of(
            List.of(
                running("ptr-train-0", 0),
                waiting("ptr-train-1", 1, "ImagePullBackOff", "Back-off pulling image")));
    assertThat(trouble.reason()).isEqualTo("ImagePullBackOff");
    assertThat(trouble.message())
        .startsWith(
            "pod ptr-train-1 (index 1) cannot pull its image"
                + " ghcr.io/tessera-dev/tessera-trainer:0.1.0-cuda13: Back-off pulling image")
        .contains("docs/images.md", "spec.image");
  }

  @Test
  void aPodNoNodeCanTakeIsNamedWithTheSchedulersWords() {
    Pod pending =
        pod("ptr-train-0", 0)
            .withNewStatus()
            .withPhase("Pending")
            .addNewCondition()
            .withType("PodScheduled")
            .withStatus("False")
            .withReason("Unschedulable")
            .withMessage("0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")
            .endCondition()
            .endStatus()
            .build();
    PodTrouble trouble = PodTrouble.of(List.of(pending));
    assertThat(trouble.reason()).isEqualTo("Unschedulable");
    assertThat(trouble.message())
        .isEqualTo(
            "pod ptr-train-0 (index 0) cannot be scheduled: 0/3 nodes are available: 3"
                + " Insufficient nvidia.com/gpu.");
  }

  @Test
  void podsOnTheirWayAreNoTrouble() {
    Pod creating = waiting("ptr-train-0", 0, "ContainerCreating", null);
    Pod pulling = waiting("ptr-train-1", 1, "PodInitializing", null);
    assertThat(PodTrouble.of(List.of(creating, pulling, running("ptr-train-2", 2)))).isNull();
    assertThat(PodTrouble.of(List.of(pod("ptr-train-3", 3).build()))).isNull();
  }

  @Test
  void aContainerThatCannotBeCreatedIsNamed() {
    PodTrouble trouble =
        PodTrouble.of(
            List.of(
                waiting(
                    "pack-0", 0, "CreateContainerConfigError", "secret \"hf-token\" not found")));
    assertThat(trouble.reason()).isEqualTo("CreateContainerConfigError");
    assertThat(trouble.message())
        .isEqualTo(
            "pod pack-0 (index 0) cannot start: CreateContainerConfigError: secret \"hf-token\""
                + " not found");
  }
}
