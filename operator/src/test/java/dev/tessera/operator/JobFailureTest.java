package dev.tessera.operator;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which pod of a failed gang explains the failure. */
class JobFailureTest {
  private static final Job JOB =
      new JobBuilder().withNewMetadata().withName("r-train").endMetadata().build();

  private static Pod pod(int index, int exitCode, String finishedAt, String message) {
    return new PodBuilder()
        .withNewMetadata()
        .withName("r-train-" + index)
        .addToAnnotations(JobFailure.COMPLETION_INDEX, String.valueOf(index))
        .endMetadata()
        .withNewStatus()
        .withPhase("Failed")
        .addNewContainerStatus()
        .withName(WorkerPod.CONTAINER)
        .withNewState()
        .withNewTerminated()
        .withExitCode(exitCode)
        .withReason("Error")
        .withMessage(message)
        .withFinishedAt(finishedAt)
        .endTerminated()
        .endState()
        .endContainerStatus()
        .endStatus()
        .build();
  }

  /**
   * Rank 1 crashed; ranks 0 and 2 stopped as ranks that lost it, one of them in an earlier second.
   * The crash is the cause, and it is retried.
   */
  @Test
  void theRankThatFailedExplainsTheGangNotTheRanksThatLostIt() {
    JobFailure failure =
        JobFailure.of(
            JOB,
            List.of(
                pod(0, 5, "2026-11-27T10:00:00Z", "error: rank 0: the connection to rank 1 failed"),
                pod(1, 1, "2026-11-27T10:00:01Z", "error: Input/output error"),
                pod(
                    2,
                    5,
                    "2026-11-27T10:00:01Z",
                    "error: rank 2: the connection to rank 0 failed")));
    assertThat(failure.message())
        .isEqualTo("pod r-train-1 (index 1) exited with code 1: error: Input/output error");
    assertThat(failure.permanent()).isFalse();
  }

  /** Every rank lost the others (a network fault): an ordinary failure, retried. */
  @Test
  void ranksThatOnlyLostEachOtherAreRetried() {
    JobFailure failure =
        JobFailure.of(
            JOB,
            List.of(
                pod(1, 5, "2026-11-27T10:00:02Z", "error: rank 1: the connection to rank 0 failed"),
                pod(0, 5, "2026-11-27T10:00:01Z", "error: rank 0: rank 1 did not answer")));
    assertThat(failure.message()).startsWith("pod r-train-0 (index 0) exited with code 5");
    assertThat(failure.permanent()).isFalse();
    assertThat(failure.disruption()).isFalse();
  }

  /** A permanent error (exit code 2) on one rank still fails the run at once. */
  @Test
  void aPermanentErrorBesideLostPeersIsPermanent() {
    JobFailure failure =
        JobFailure.of(
            JOB,
            List.of(
                pod(0, 5, "2026-11-27T10:00:00Z", "error: rank 0: the connection to rank 1 failed"),
                pod(1, 2, "2026-11-27T10:00:00Z", "error: no shards at packed/")));
    assertThat(failure.message()).contains("index 1").contains("no shards");
    assertThat(failure.permanent()).isTrue();
  }
}
