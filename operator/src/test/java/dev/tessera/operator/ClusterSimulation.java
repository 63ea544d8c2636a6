package dev.tessera.operator;

import static org.awaitility.Awaitility.await;

import dev.tessera.api.v1alpha1.StorageSpec;
import dev.tessera.api.v1alpha1.TesseraStatus;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobConditionBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Plays the Job controller and the workers against the mock API server: Job and pod status as
 * Kubernetes would write them, and progress reports as the workers' reporter writes them.
 */
final class ClusterSimulation {
  static final Duration TIMEOUT = Duration.ofSeconds(20);

  private final KubernetesClient client;
  private final String namespace;

  ClusterSimulation(KubernetesClient client, String namespace) {
    this.client = client;
    this.namespace = namespace;
  }

  static StorageSpec storage() {
    StorageSpec storage = new StorageSpec();
    storage.claimName = "datasets";
    return storage;
  }

  Job awaitJob(String name) {
    return await()
        .atMost(TIMEOUT)
        .until(
            () -> client.batch().v1().jobs().inNamespace(namespace).withName(name).get(),
            j -> j != null);
  }

  /**
   * Waits until {@code owner}'s progress ConfigMap exists: the last child a new resource gets, so a
   * test that returns after it leaves no creations behind for the next test to see.
   */
  void awaitChildren(HasMetadata owner) {
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                client
                    .configMaps()
                    .inNamespace(namespace)
                    .withName(ProgressChannel.configMapName(owner))
                    .get(),
            c -> c != null);
  }

  <R extends CustomResource<?, TesseraStatus>> R awaitStatus(
      Class<R> type, String name, Predicate<TesseraStatus> condition) {
    return await()
        .atMost(TIMEOUT)
        .until(
            () -> client.resources(type).inNamespace(namespace).withName(name).get(),
            r -> r != null && r.getStatus() != null && condition.test(r.getStatus()));
  }

  /** Waits until the resource's condition {@code type} exists and passes {@code test}. */
  <R extends CustomResource<?, TesseraStatus>> R awaitCondition(
      Class<R> kind, String name, String type, Predicate<Condition> test) {
    return awaitStatus(kind, name, s -> s.condition(type) != null && test.test(s.condition(type)));
  }

  /** Changes a resource as a user would, retrying when the operator wrote its status between. */
  <R extends CustomResource<?, TesseraStatus>> void edit(
      Class<R> type, String name, java.util.function.Consumer<R> change) {
    for (int attempt = 0; ; attempt++) {
      R current = client.resources(type).inNamespace(namespace).withName(name).get();
      change.accept(current);
      try {
        client.resource(current).update();
        return;
      } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
        if (e.getCode() != 409 || attempt > 20) {
          throw e;
        }
      }
    }
  }

  void running(String job, int active) {
    Job j = client.batch().v1().jobs().inNamespace(namespace).withName(job).get();
    j.setStatus(
        new JobStatusBuilder()
            .withActive(active)
            .withReady(active)
            .withStartTime(Instant.now().toString())
            .build());
    client.batch().v1().jobs().inNamespace(namespace).resource(j).updateStatus();
  }

  void complete(String job) {
    finish(job, "Complete", "Completed", "");
  }

  void fail(String job, String reason, String message) {
    finish(job, "Failed", reason, message);
  }

  private void finish(String job, String type, String reason, String message) {
    Job j = client.batch().v1().jobs().inNamespace(namespace).withName(job).get();
    String now = Instant.now().toString();
    j.setStatus(
        new JobStatusBuilder()
            .withActive(0)
            .withSucceeded("Complete".equals(type) ? j.getSpec().getCompletions() : 0)
            .withFailed("Failed".equals(type) ? 1 : 0)
            .withCompletionTime("Complete".equals(type) ? now : null)
            .withConditions(
                new JobConditionBuilder()
                    .withType(type)
                    .withStatus("True")
                    .withReason(reason)
                    .withMessage(message)
                    .withLastTransitionTime(now)
                    .build())
            .build());
    client.batch().v1().jobs().inNamespace(namespace).resource(j).updateStatus();
  }

  /** A pod of {@code job} at completion index {@code index}, terminated as given. */
  Pod terminatedPod(Job job, int index, int exitCode, String reason, String message) {
    Pod pod = podOf(job, index);
    pod.setStatus(
        new io.fabric8.kubernetes.api.model.PodStatusBuilder()
            .withPhase("Failed")
            .addNewContainerStatus()
            .withName(WorkerPod.CONTAINER)
            .withNewState()
            .withNewTerminated()
            .withExitCode(exitCode)
            .withReason(reason)
            .withMessage(message)
            .withFinishedAt(Instant.now().toString())
            .endTerminated()
            .endState()
            .endContainerStatus()
            .build());
    return create(pod);
  }

  /** A pod of {@code job} whose container waits for {@code reason}, e.g. ImagePullBackOff. */
  Pod waitingPod(Job job, int index, String reason, String message) {
    Pod pod = podOf(job, index);
    pod.setStatus(waiting(pod.getSpec().getContainers().get(0).getImage(), reason, message));
    return create(pod);
  }

  /** The pod's container runs now. */
  void podRunning(Pod pod) {
    Pod current = client.pods().inNamespace(namespace).withName(pod.getMetadata().getName()).get();
    current.setStatus(running());
    client.pods().inNamespace(namespace).resource(current).updateStatus();
  }

  /** A pending pod's status: the worker container of {@code image} waits for {@code reason}. */
  static PodStatus waiting(String image, String reason, String message) {
    return new PodStatusBuilder()
        .withPhase("Pending")
        .addNewContainerStatus()
        .withName(WorkerPod.CONTAINER)
        .withImage(image)
        .withNewState()
        .withNewWaiting()
        .withReason(reason)
        .withMessage(message)
        .endWaiting()
        .endState()
        .endContainerStatus()
        .build();
  }

  /** A running pod's status. */
  static PodStatus running() {
    return new PodStatusBuilder()
        .withPhase("Running")
        .addNewContainerStatus()
        .withName(WorkerPod.CONTAINER)
        .withNewState()
        .withNewRunning()
        .endRunning()
        .endState()
        .endContainerStatus()
        .build();
  }

  /** A pod of {@code job} that the scheduler preempted. */
  Pod preemptedPod(Job job, int index) {
    Pod pod = podOf(job, index);
    pod.setStatus(
        new io.fabric8.kubernetes.api.model.PodStatusBuilder()
            .withPhase("Failed")
            .addNewCondition()
            .withType("DisruptionTarget")
            .withStatus("True")
            .withReason("PreemptionByScheduler")
            .withMessage("Kueue: preempted to admit a higher-priority workload")
            .endCondition()
            .build());
    return create(pod);
  }

  private Pod create(Pod pod) {
    Pod created = client.pods().inNamespace(namespace).resource(pod).create();
    created.setStatus(pod.getStatus());
    return client.pods().inNamespace(namespace).resource(created).updateStatus();
  }

  private Pod podOf(Job job, int index) {
    Map<String, String> labels =
        new HashMap<>(job.getSpec().getTemplate().getMetadata().getLabels());
    labels.put("batch.kubernetes.io/job-name", job.getMetadata().getName());
    return new PodBuilder()
        .withNewMetadata()
        .withName(
            job.getMetadata().getName()
                + "-"
                + index
                + "-x"
                + Integer.toHexString(job.hashCode() & 0xfff))
        .withNamespace(namespace)
        .withLabels(labels)
        .withAnnotations(Map.of(JobFailure.COMPLETION_INDEX, String.valueOf(index)))
        .endMetadata()
        .withSpec(job.getSpec().getTemplate().getSpec())
        .build();
  }

  /** A worker's report, as the ConfigMap reporter writes it. */
  void report(HasMetadata owner, int index, String json) {
    String name = owner.getMetadata().getName() + "-progress";
    ConfigMap configMap =
        await()
            .atMost(TIMEOUT)
            .until(
                () -> client.configMaps().inNamespace(namespace).withName(name).get(),
                c -> c != null);
    client
        .configMaps()
        .inNamespace(namespace)
        .withName(configMap.getMetadata().getName())
        .edit(
            c -> {
              Map<String, String> data =
                  c.getData() == null ? new HashMap<>() : new HashMap<>(c.getData());
              data.put("progress-" + index + ".json", json);
              c.setData(data);
              return c;
            });
  }
}
