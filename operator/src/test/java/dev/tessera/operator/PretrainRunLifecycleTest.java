package dev.tessera.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tessera.api.v1alpha1.Conditions;
import dev.tessera.api.v1alpha1.InputRef;
import dev.tessera.api.v1alpha1.PackJob;
import dev.tessera.api.v1alpha1.PackJobSpec;
import dev.tessera.api.v1alpha1.Phase;
import dev.tessera.api.v1alpha1.PretrainRun;
import dev.tessera.api.v1alpha1.PretrainRunSpec;
import dev.tessera.api.v1alpha1.TrainingSpec;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.KubernetesServer;
import io.quarkus.test.kubernetes.client.KubernetesTestServer;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import io.restassured.RestAssured;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * A PackJob and the PretrainRun that waits for it, through their whole lives, with the test playing
 * the Job controller and the workers.
 */
@QuarkusTest
@WithKubernetesTestServer
class PretrainRunLifecycleTest {
  @Inject KubernetesClient client;

  @KubernetesTestServer KubernetesServer mockServer;

  private ClusterSimulation cluster() {
    return new ClusterSimulation(client, client.getNamespace());
  }

  static PackJob packJob(String name) {
    PackJob pack = new PackJob();
    pack.setMetadata(new ObjectMetaBuilder().withName(name).build());
    PackJobSpec spec = new PackJobSpec();
    spec.input = InputRef.path("raw/{00000..00003}.tar");
    spec.output = "packed";
    spec.tokenizer = "tokenizer.json";
    spec.storage = ClusterSimulation.storage();
    pack.setSpec(spec);
    return pack;
  }

  static PretrainRun pretrainRun(String name, String packJob) {
    PretrainRun run = new PretrainRun();
    run.setMetadata(new ObjectMetaBuilder().withName(name).build());
    PretrainRunSpec spec = new PretrainRunSpec();
    spec.input = new InputRef();
    spec.input.packJob = packJob;
    spec.output = "runs/" + name;
    spec.nodes = 2;
    spec.gpusPerNode = 4;
    spec.backoffLimit = 1;
    spec.queueName = "gpu-queue";
    spec.training = new TrainingSpec();
    spec.training.steps = 100L;
    spec.training.mfuTarget = 0.45;
    spec.training.maxDamagedSequences = 3;
    spec.checkpoints = new dev.tessera.api.v1alpha1.CheckpointSpec();
    spec.checkpoints.every = 20;
    spec.checkpoints.keepBest = true;
    spec.evaluation = new dev.tessera.api.v1alpha1.EvaluationSpec();
    spec.evaluation.sequences = 16;
    spec.evaluation.every = 10;
    spec.storage = ClusterSimulation.storage();
    run.setSpec(spec);
    return run;
  }

  /**
   * A pod whose image cannot be pulled keeps its Job active for ever: the resource is Pending with
   * the reason and the image named, and Running again once the pod runs.
   */
  @Test
  void aPodThatCannotPullItsImageIsReported() {
    ClusterSimulation cluster = cluster();
    client.resource(packJob("stuck")).create();
    Job job = cluster.awaitJob("stuck-pack");
    cluster.awaitChildren(packJob("stuck"));
    cluster.running("stuck-pack", 1);
    var pod =
        cluster.waitingPod(
            job, 0, "ImagePullBackOff", "Back-off pulling image \"registry.invalid/x:1\"");
    PackJob stuck =
        cluster.awaitCondition(
            PackJob.class,
            "stuck",
            Conditions.RUNNING,
            c -> "ImagePullBackOff".equals(c.getReason()));
    assertThat(stuck.getStatus().phase).isEqualTo(Phase.Pending);
    assertThat(stuck.getStatus().condition(Conditions.RUNNING).getMessage())
        .startsWith("stage pack: pod " + pod.getMetadata().getName() + " (index 0) cannot pull")
        .contains("ghcr.io/tessera-dev/tessera-curator:0.1.0");
    assertThat(
            client.v1().events().list().getItems().stream()
                .filter(e -> "ImagePullBackOff".equals(e.getReason()))
                .filter(e -> "stuck".equals(e.getInvolvedObject().getName())))
        .as("an event when the trouble starts, not one each reconcile")
        .isNotEmpty()
        .hasSizeLessThanOrEqualTo(2);

    cluster.podRunning(pod);
    cluster.awaitStatus(PackJob.class, "stuck", s -> s.phase == Phase.Running);
  }

  /** A run without GPUs trains on the CPU image; a run with GPUs (below) on its CUDA variant. */
  @Test
  void aRunWithoutGpusRunsTheCpuTrainerImage() {
    ClusterSimulation cluster = cluster();
    PretrainRun run = pretrainRun("ptr-cpu", null);
    run.getSpec().input = InputRef.path("packed");
    run.getSpec().queueName = null;
    run.getSpec().nodes = 1;
    run.getSpec().gpusPerNode = 0;
    client.resource(run).create();
    var container =
        cluster.awaitJob("ptr-cpu-train").getSpec().getTemplate().getSpec().getContainers().get(0);
    assertThat(container.getImage()).isEqualTo("ghcr.io/tessera-dev/tessera-trainer:0.1.0");
    assertThat(container.getArgs()).containsSubsequence("--backend", "cpu");
    cluster.awaitChildren(run);
  }

  /** The operator's pull secrets reach the pods, unless the resource names its own. */
  @Test
  void workerPodsPullWithTheOperatorsSecretsOrTheirOwn() {
    ClusterSimulation cluster = cluster();
    client.resource(packJob("pull-default")).create();
    PackJob own = packJob("pull-own");
    own.getSpec().imagePullSecrets =
        List.of(new io.fabric8.kubernetes.api.model.LocalObjectReference("team-registry"));
    client.resource(own).create();
    assertThat(
            cluster
                .awaitJob("pull-default-pack")
                .getSpec()
                .getTemplate()
                .getSpec()
                .getImagePullSecrets())
        .extracting(io.fabric8.kubernetes.api.model.LocalObjectReference::getName)
        .containsExactly("regcred", "mirror-cred");
    assertThat(
            cluster
                .awaitJob("pull-own-pack")
                .getSpec()
                .getTemplate()
                .getSpec()
                .getImagePullSecrets())
        .extracting(io.fabric8.kubernetes.api.model.LocalObjectReference::getName)
        .containsExactly("team-registry");
    cluster.awaitChildren(packJob("pull-default"));
    cluster.awaitChildren(own);
  }

  /**
   * The way to running pods comes first: a new resource's ServiceAccount (its pods cannot be made
   * without it), then its Job; the Role, RoleBinding and progress ConfigMap follow, the ConfigMap
   * last. Read from the order of the creations the API server received (after the earlier tests'
   * requests, which the server also recorded).
   */
  @Test
  void aNewResourceCreatesItsAccountThenItsJobThenTheRest() throws InterruptedException {
    ClusterSimulation cluster = cluster();
    // The server keeps no request bodies to tell resources apart: start from an empty record.
    while (mockServer.getKubernetesMockServer().takeRequest(1, TimeUnit.MILLISECONDS) != null) {
      // earlier tests' requests
    }
    client.resource(packJob("order1")).create();
    cluster.awaitJob("order1-pack");
    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofSeconds(30))
        .until(
            () ->
                client.configMaps().withName(ProgressChannel.configMapName(packJob("order1")))
                    != null);
    List<String> created = new ArrayList<>();
    RecordedRequest request;
    while ((request = mockServer.getKubernetesMockServer().takeRequest(1, TimeUnit.MILLISECONDS))
        != null) {
      if (request.getMethod().equals("POST")) {
        String path = request.getPath().replaceAll("\\?.*", "");
        created.add(path.substring(path.lastIndexOf('/') + 1));
      }
    }
    assertThat(created)
        .containsSubsequence("packjobs", "serviceaccounts", "jobs")
        .contains("roles", "rolebindings", "configmaps");
    assertThat(created.indexOf("roles")).isGreaterThan(created.indexOf("jobs"));
    assertThat(created.indexOf("rolebindings")).isGreaterThan(created.indexOf("jobs"));
    assertThat(created.get(created.size() - 1)).isEqualTo("configmaps");
  }

  /**
   * A reconcile that finds nothing new sends no status: the one status write when the Job was
   * created stays the only one when later events (here, annotations on the Job) wake the
   * reconciler. Counted from the requests the API server received.
   */
  @Test
  void reconcilesThatChangeNothingSendNoStatus() throws InterruptedException {
    ClusterSimulation cluster = cluster();
    client.resource(packJob("quiet1")).create();
    cluster.awaitJob("quiet1-pack");
    cluster.awaitStatus(
        PackJob.class,
        "quiet1",
        s ->
            s.phase == Phase.Pending
                && "PodsPending".equals(s.condition(Conditions.RUNNING).getReason()));
    for (int i = 0; i < 3; i++) {
      String value = "touch-" + i;
      client
          .batch()
          .v1()
          .jobs()
          .withName("quiet1-pack")
          .edit(
              job -> {
                job.getMetadata().getAnnotations().put("tessera.dev/test", value);
                return job;
              });
      Thread.sleep(300);
    }
    int statusWrites = 0;
    RecordedRequest request;
    while ((request = mockServer.getKubernetesMockServer().takeRequest(1, TimeUnit.MILLISECONDS))
        != null) {
      if (!request.getMethod().equals("GET")
          && request.getPath().contains("/packjobs/quiet1/status")) {
        statusWrites++;
      }
    }
    assertThat(statusWrites).isEqualTo(1);
    assertThat(client.resources(PackJob.class).withName("quiet1").get().getStatus())
        .extracting(s -> s.condition(Conditions.RUNNING).getMessage())
        .isEqualTo("Job quiet1-pack has no running pod yet");
  }

  @Test
  void packThenPretrainThroughFailuresToSuccess() {
    ClusterSimulation cluster = cluster();
    // The run comes first and waits for its input.
    PretrainRun run = client.resource(pretrainRun("ptr1", "pack1")).create();
    PretrainRun waiting =
        cluster.awaitStatus(PretrainRun.class, "ptr1", s -> s.phase == Phase.Waiting);
    assertThat(waiting.getStatus().condition(Conditions.INPUT_READY).getReason())
        .isEqualTo("Waiting");
    assertThat(waiting.getStatus().condition(Conditions.INPUT_READY).getMessage())
        .contains("PackJob pack1");
    assertThat(client.batch().v1().jobs().withName("ptr1-train").get()).isNull();

    // The PackJob runs, reports, and succeeds.
    PackJob pack = client.resource(packJob("pack1")).create();
    Job packing = cluster.awaitJob("pack1-pack");
    assertThat(packing.getSpec().getTemplate().getSpec().getContainers().get(0).getArgs())
        .containsSubsequence("pack", "--input", "raw/{00000..00003}.tar", "--out", "packed")
        .contains("--resume");
    cluster.running("pack1-pack", 1);
    cluster.report(
        pack,
        0,
        "{\"version\":3,\"phase\":\"Running\",\"progress\":{\"stage\":\"write\",\"shardsDone\":1,\"shards\":2,\"sequences\":40},\"updated\":\"2026-11-26T10:00:00Z\"}");
    PackJob packRunning =
        cluster.awaitStatus(
            PackJob.class,
            "pack1",
            s -> s.progress != null && s.progress.percent != null && s.progress.percent == 75.0);
    assertThat(packRunning.getStatus().phase).isEqualTo(Phase.Running);
    cluster.report(
        pack,
        0,
        "{\"version\":4,\"phase\":\"Succeeded\",\"progress\":{\"samples\":1000,\"sequences\":80,\"fillRatio\":0.987,\"lowerBoundSequences\":79,\"dropped\":0},\"updated\":\"2026-11-26T10:01:00Z\"}");
    cluster.complete("pack1-pack");
    PackJob packed = cluster.awaitStatus(PackJob.class, "pack1", s -> s.phase == Phase.Succeeded);
    assertThat(packed.getStatus().output.path).isEqualTo("packed");
    assertThat(packed.getStatus().progress.fillRatio).isEqualTo(0.987);
    assertThat(packed.getStatus().isTrue(Conditions.COMPLETE)).isTrue();

    // The run starts: headless Service, Indexed Job of 2 nodes, rank and rendezvous wiring.
    Job train = cluster.awaitJob("ptr1-train");
    assertThat(train.getSpec().getCompletionMode()).isEqualTo("Indexed");
    assertThat(train.getSpec().getCompletions()).isEqualTo(2);
    assertThat(train.getSpec().getParallelism()).isEqualTo(2);
    assertThat(train.getSpec().getBackoffLimit()).isZero();
    assertThat(train.getMetadata().getLabels()).containsEntry(Labels.KUEUE_QUEUE, "gpu-queue");
    assertThat(train.getMetadata().getOwnerReferences())
        .singleElement()
        .satisfies(o -> assertThat(o.getKind()).isEqualTo("PretrainRun"));
    assertThat(train.getSpec().getPodFailurePolicy().getRules())
        .anySatisfy(
            r -> {
              assertThat(r.getAction()).isEqualTo("FailJob");
              assertThat(r.getOnPodConditions())
                  .singleElement()
                  .satisfies(c -> assertThat(c.getType()).isEqualTo("DisruptionTarget"));
            })
        .anySatisfy(r -> assertThat(r.getOnExitCodes().getValues()).contains(2, 4));
    var pod = train.getSpec().getTemplate().getSpec();
    var container = pod.getContainers().get(0);
    assertThat(container.getImage()).isEqualTo("ghcr.io/tessera-dev/tessera-trainer:0.1.0-cuda13");
    assertThat(container.getArgs())
        .containsSubsequence("pretrain", "--data", "packed")
        .containsSubsequence("--ranks", "8", "--local-ranks", "4")
        .contains("--backend", "cuda")
        .containsSubsequence("--steps", "100")
        .containsSubsequence("--eval-sequences", "16", "--eval-every", "10")
        .contains("--keep-best")
        .containsSubsequence("--max-damaged-sequences", "3");
    Map<String, EnvVar> env =
        container.getEnv().stream().collect(Collectors.toMap(EnvVar::getName, e -> e));
    assertThat(env.get("TESSERA_RENDEZVOUS").getValue())
        .isEqualTo("ptr1-train-0.ptr1-ranks." + client.getNamespace() + ".svc:29500");
    assertThat(env.get("TESSERA_RANK").getValueFrom().getFieldRef().getFieldPath())
        .contains("job-completion-index");
    assertThat(env.get("TESSERA_PROGRESS_CONFIGMAP").getValue()).isEqualTo("ptr1-progress");
    assertThat(env).doesNotContainKey("TESSERA_RESUME_FROM");
    assertThat(container.getResources().getLimits().get("nvidia.com/gpu").getAmount())
        .isEqualTo("4");
    assertThat(pod.getSubdomain()).isEqualTo("ptr1-ranks");
    assertThat(pod.getTerminationGracePeriodSeconds()).isEqualTo(300L);
    assertThat(pod.getServiceAccountName()).isEqualTo("ptr1-worker");
    assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
    assertThat(container.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
    assertThat(container.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
    assertThat(container.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
    assertThat(pod.getVolumes())
        .anySatisfy(
            v -> assertThat(v.getPersistentVolumeClaim().getClaimName()).isEqualTo("datasets"));
    assertThat(pod.getVolumes())
        .anySatisfy(
            v ->
                assertThat(v.getEmptyDir() != null && "Memory".equals(v.getEmptyDir().getMedium()))
                    .isTrue());
    Service service = client.services().withName("ptr1-ranks").get();
    assertThat(service.getSpec().getClusterIP()).isEqualTo("None");
    assertThat(service.getSpec().getPublishNotReadyAddresses()).isTrue();
    Role role = client.rbac().roles().withName("ptr1-progress").get();
    assertThat(role.getRules())
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.getResourceNames()).containsExactly("ptr1-progress");
              assertThat(r.getResources()).containsExactly("configmaps");
              assertThat(r.getVerbs()).containsExactlyInAnyOrder("get", "patch", "update");
            });

    // Running, with progress and a checkpoint through the ConfigMap.
    cluster.running("ptr1-train", 2);
    cluster.report(
        run,
        0,
        "{\"version\":7,\"phase\":\"Running\",\"progress\":{\"step\":40,\"steps\":100,\"loss\":2.5,\"evalLoss\":2.75,\"tokensPerSecond\":18400,\"mfu\":0.41,\"secondsPerStep\":2.0,\"eta\":\"2m\",\"skippedSteps\":1,\"damagedSequences\":3},"
            + "\"checkpoints\":[{\"step\":40,\"path\":\"runs/ptr1/checkpoints/step-00000040\",\"loss\":2.5,\"evalLoss\":2.75,\"best\":true,\"verified\":true}],\"updated\":\"2026-11-26T10:05:00Z\"}");
    PretrainRun progressing =
        cluster.awaitStatus(PretrainRun.class, "ptr1", s -> s.latestCheckpoint != null);
    assertThat(progressing.getStatus().phase).isEqualTo(Phase.Running);
    assertThat(progressing.getStatus().progress.step).isEqualTo(40);
    assertThat(progressing.getStatus().progress.percent).isEqualTo(40.0);
    assertThat(progressing.getStatus().progress.loss).isEqualTo(2.5);
    assertThat(progressing.getStatus().progress.evalLoss).isEqualTo(2.75);
    assertThat(progressing.getStatus().progress.skippedSteps).isEqualTo(1);
    assertThat(progressing.getStatus().progress.damagedSequences).isEqualTo(3);
    assertThat(progressing.getStatus().latestCheckpoint.path)
        .isEqualTo("runs/ptr1/checkpoints/step-00000040");
    assertThat(progressing.getStatus().latestCheckpoint.time).isEqualTo("2026-11-26T10:05:00Z");
    assertThat(progressing.getStatus().bestCheckpoint.step).isEqualTo(40);
    assertThat(progressing.getStatus().bestCheckpoint.evalLoss).isEqualTo(2.75);

    // Rank 1 is OOMKilled: the reason reaches the status, the attempt is restarted (counted) and
    // resumes from the latest checkpoint.
    cluster.terminatedPod(train, 1, 137, "OOMKilled", "");
    cluster.fail(
        "ptr1-train",
        "PodFailurePolicy",
        "Container worker for pod ptr1-train-1 failed with exit code 137");
    PretrainRun restarted =
        cluster.awaitStatus(PretrainRun.class, "ptr1", s -> s.restarts != null && s.restarts == 1);
    assertThat(restarted.getStatus().condition(Conditions.RUNNING).getReason())
        .isEqualTo("OOMKilled");
    assertThat(restarted.getStatus().condition(Conditions.RUNNING).getMessage())
        .contains("index 1")
        .contains("OOMKilled")
        .contains("resuming from runs/ptr1/checkpoints/step-00000040");
    Job retry = cluster.awaitJob("ptr1-train-r1");
    assertThat(retry.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv())
        .anySatisfy(
            e -> {
              assertThat(e.getName()).isEqualTo("TESSERA_RESUME_FROM");
              assertThat(e.getValue()).isEqualTo("runs/ptr1/checkpoints/step-00000040");
            });
    await()
        .atMost(ClusterSimulation.TIMEOUT)
        .until(() -> client.batch().v1().jobs().withName("ptr1-train").get() == null);
    assertThat(
            client
                .getKubernetesSerialization()
                .asJson(
                    client.v1().events().list().getItems().stream()
                        .map(e -> e.getReason())
                        .toList()))
        .contains("OOMKilled");

    // Preempted: restarted again, not counted.
    cluster.preemptedPod(retry, 0);
    cluster.fail("ptr1-train-r1", "PodFailurePolicy", "Pod was preempted");
    PretrainRun preempted =
        cluster.awaitStatus(
            PretrainRun.class, "ptr1", s -> s.disruptions != null && s.disruptions == 1);
    assertThat(preempted.getStatus().restarts).isEqualTo(1);
    assertThat(preempted.getStatus().condition(Conditions.RUNNING).getReason())
        .isEqualTo("PreemptionByScheduler");
    cluster.awaitJob("ptr1-train-r2");

    // Suspended by the spec: the Job is suspended; resumed, Kueue owns the Job's suspension again.
    cluster.edit(PretrainRun.class, "ptr1", r -> r.getSpec().suspend = true);
    await()
        .atMost(ClusterSimulation.TIMEOUT)
        .until(
            () ->
                Boolean.TRUE.equals(
                    client
                        .batch()
                        .v1()
                        .jobs()
                        .withName("ptr1-train-r2")
                        .get()
                        .getSpec()
                        .getSuspend()));
    PretrainRun suspended =
        cluster.awaitStatus(PretrainRun.class, "ptr1", s -> s.phase == Phase.Suspended);
    assertThat(suspended.getStatus().condition(Conditions.SUSPENDED).getReason())
        .isEqualTo("Suspended");
    assertThat(suspended.getStatus().isTrue(Conditions.SPEC_APPLIED)).isTrue();
    cluster.edit(PretrainRun.class, "ptr1", r -> r.getSpec().suspend = false);
    PretrainRun queued =
        cluster.awaitCondition(
            PretrainRun.class, "ptr1", Conditions.SUSPENDED, c -> "Queued".equals(c.getReason()));
    assertThat(queued.getStatus().condition(Conditions.SUSPENDED).getMessage())
        .contains("gpu-queue");

    // Kueue admits it: the run goes on and succeeds.
    Job admitted = client.batch().v1().jobs().withName("ptr1-train-r2").get();
    admitted.getSpec().setSuspend(false);
    client.resource(admitted).update();
    cluster.running("ptr1-train-r2", 2);
    cluster.awaitStatus(PretrainRun.class, "ptr1", s -> s.phase == Phase.Running);

    // A change to the work while running is refused with a condition, not ignored.
    cluster.edit(PretrainRun.class, "ptr1", r -> r.getSpec().training.lr = 1e-3);
    PretrainRun refused =
        cluster.awaitStatus(
            PretrainRun.class,
            "ptr1",
            s ->
                s.condition(Conditions.SPEC_APPLIED) != null && !s.isTrue(Conditions.SPEC_APPLIED));
    assertThat(refused.getStatus().condition(Conditions.SPEC_APPLIED).getReason())
        .isEqualTo(Conditions.REASON_SPEC_CHANGE_REFUSED);
    assertThat(refused.getStatus().condition(Conditions.SPEC_APPLIED).getMessage())
        .contains("training");
    assertThat(refused.getStatus().observedGeneration)
        .isEqualTo(refused.getMetadata().getGeneration());

    // Metrics for every resource.
    await()
        .atMost(ClusterSimulation.TIMEOUT)
        .untilAsserted(
            () -> {
              String metrics =
                  RestAssured.get("/q/metrics").then().statusCode(200).extract().asString();
              assertThat(metrics)
                  .contains("tessera_resource_phase{kind=\"PretrainRun\",name=\"ptr1\"");
              assertThat(metrics)
                  .containsPattern(
                      "tessera_restarts\\{kind=\"PretrainRun\",name=\"ptr1\",namespace=\"[^\"]+\"} 1.0");
              assertThat(metrics)
                  .containsPattern(
                      "tessera_disruptions\\{kind=\"PretrainRun\",name=\"ptr1\",namespace=\"[^\"]+\"} 1.0");
              assertThat(metrics)
                  .contains("tessera_training_mfu_target{kind=\"PretrainRun\",name=\"ptr1\"");
              assertThat(metrics)
                  .containsPattern(
                      "tessera_checkpoint_interval_seconds\\{kind=\"PretrainRun\",name=\"ptr1\",namespace=\"[^\"]+\"} 40.0");
              assertThat(metrics)
                  .containsPattern(
                      "tessera_training_eval_loss\\{kind=\"PretrainRun\",name=\"ptr1\",namespace=\"[^\"]+\"} 2.75");
              assertThat(metrics)
                  .containsPattern(
                      "tessera_training_skipped_steps\\{kind=\"PretrainRun\",name=\"ptr1\",namespace=\"[^\"]+\"} 1.0");
              assertThat(metrics)
                  .containsPattern(
                      "tessera_training_damaged_sequences\\{kind=\"PretrainRun\",name=\"ptr1\",namespace=\"[^\"]+\"} 3.0");
              assertThat(metrics)
                  .contains("tessera_progress_percent{kind=\"PackJob\",name=\"pack1\"");
              assertThat(metrics).contains("reconciliations_");
            });

    // A non-finite loss: the status keeps the last finite one and says so; the gauge shows NaN.
    cluster.report(
        run,
        0,
        "{\"version\":9,\"phase\":\"Running\",\"progress\":{\"step\":41,\"steps\":100,\"loss\":\"NaN\"},\"updated\":\"2026-11-26T10:06:00Z\"}");
    PretrainRun nan =
        cluster.awaitStatus(
            PretrainRun.class, "ptr1", s -> Boolean.FALSE.equals(s.progress.lossFinite));
    assertThat(nan.getStatus().progress.loss).isEqualTo(2.5);
    await()
        .atMost(ClusterSimulation.TIMEOUT)
        .untilAsserted(
            () ->
                assertThat(RestAssured.get("/q/metrics").asString())
                    .containsPattern(
                        "tessera_training_loss\\{kind=\"PretrainRun\",name=\"ptr1\",namespace=\"[^\"]+\"} NaN"));

    cluster.complete("ptr1-train-r2");
    PretrainRun done =
        cluster.awaitStatus(PretrainRun.class, "ptr1", s -> s.phase == Phase.Succeeded);
    assertThat(done.getStatus().output.path).isEqualTo("runs/ptr1");
    assertThat(done.getStatus().completionTime).isNotNull();
    assertThat(done.getStatus().restarts).isEqualTo(1);

    // Deletion: the resource goes, and so do its metrics.
    client.resource(done).delete();
    client.resource(packed).delete();
    await()
        .atMost(ClusterSimulation.TIMEOUT)
        .untilAsserted(
            () -> {
              String metrics = RestAssured.get("/q/metrics").then().extract().asString();
              assertThat(metrics).doesNotContain("name=\"ptr1\"").doesNotContain("name=\"pack1\"");
            });
  }

  @Test
  void aFailedInputFailsTheStageAndAPermanentExitIsNotRetried() {
    ClusterSimulation cluster = cluster();
    PackJob pack = client.resource(packJob("pack2")).create();
    client.resource(pretrainRun("ptr2", "pack2")).create();
    Job packing = cluster.awaitJob("pack2-pack");
    cluster.terminatedPod(packing, 0, 2, "Error", "step 1\nerror: no shards at raw/00002.tar");
    cluster.fail("pack2-pack", "PodFailurePolicy", "exit code 2");
    PackJob failed = cluster.awaitStatus(PackJob.class, "pack2", s -> s.phase == Phase.Failed);
    assertThat(failed.getStatus().restarts).isNull();
    assertThat(failed.getStatus().condition(Conditions.FAILED).getMessage())
        .contains("exited with code 2: error: no shards at raw/00002.tar");
    PretrainRun run = cluster.awaitStatus(PretrainRun.class, "ptr2", s -> s.phase == Phase.Failed);
    assertThat(run.getStatus().condition(Conditions.FAILED).getReason())
        .isEqualTo(Conditions.REASON_INPUT_FAILED);
    assertThat(run.getStatus().condition(Conditions.FAILED).getMessage())
        .contains("PackJob pack2 failed")
        .contains("no shards");
    assertThat(pack.getMetadata().getName()).isEqualTo("pack2");
  }

  @Test
  void retriesStopAtTheBackoffLimit() {
    ClusterSimulation cluster = cluster();
    PretrainRun spec = pretrainRun("ptr3", null);
    spec.getSpec().input = InputRef.path("packed");
    spec.getSpec().queueName = null;
    spec.getSpec().backoffLimit = 1;
    client.resource(spec).create();
    Job first = cluster.awaitJob("ptr3-train");
    cluster.terminatedPod(first, 0, 1, "Error", "java.io.IOException: Input/output error");
    cluster.fail("ptr3-train", "PodFailurePolicy", "");
    Job second = cluster.awaitJob("ptr3-train-r1");
    cluster.terminatedPod(second, 1, 1, "Error", "java.io.IOException: Input/output error");
    cluster.fail("ptr3-train-r1", "PodFailurePolicy", "");
    PretrainRun failed =
        cluster.awaitStatus(PretrainRun.class, "ptr3", s -> s.phase == Phase.Failed);
    assertThat(failed.getStatus().condition(Conditions.FAILED).getReason()).isEqualTo("ExitCode");
    assertThat(failed.getStatus().condition(Conditions.FAILED).getMessage())
        .contains("retried 1 of 1 times")
        .contains("Input/output error");
    assertThat(client.batch().v1().jobs().withName("ptr3-train-r2").get()).isNull();
  }

  @Test
  void anExistingChildJobIsAdoptedAndADeletedOneRecreated() {
    ClusterSimulation cluster = cluster();
    PretrainRun spec = pretrainRun("ptr4", null);
    spec.getSpec().input = InputRef.path("packed");
    // As if an operator had created the Job and died before writing the status: the next one
    // finds the Job by its name and creates no second one.
    Job leftOver =
        client
            .batch()
            .v1()
            .jobs()
            .resource(
                new io.fabric8.kubernetes.api.model.batch.v1.JobBuilder()
                    .withNewMetadata()
                    .withName("ptr4-train")
                    .withLabels(
                        Map.of(
                            Labels.KIND,
                            "PretrainRun",
                            Labels.NAME,
                            "ptr4",
                            Labels.STAGE,
                            "train",
                            Labels.ATTEMPT,
                            "0"))
                    .endMetadata()
                    .withNewSpec()
                    .withCompletions(2)
                    .withNewTemplate()
                    .endTemplate()
                    .endSpec()
                    .build())
            .create();
    client.resource(spec).create();
    cluster.running("ptr4-train", 2);
    cluster.awaitStatus(PretrainRun.class, "ptr4", s -> s.phase == Phase.Running);
    assertThat(client.batch().v1().jobs().withLabel(Labels.NAME, "ptr4").list().getItems())
        .singleElement()
        .satisfies(
            j -> assertThat(j.getMetadata().getUid()).isEqualTo(leftOver.getMetadata().getUid()));

    client.resource(leftOver).delete();
    await()
        .atMost(ClusterSimulation.TIMEOUT)
        .until(
            () -> {
              Job again = client.batch().v1().jobs().withName("ptr4-train").get();
              return again != null
                  && !again.getMetadata().getUid().equals(leftOver.getMetadata().getUid());
            });
    assertThat(client.batch().v1().jobs().withLabel(Labels.NAME, "ptr4").list().getItems())
        .hasSize(1);
  }

  @Test
  void invalidSpecsAreRefusedWithTheReason() {
    ClusterSimulation cluster = cluster();
    PretrainRun run = pretrainRun("ptr5", null);
    run.getSpec().input = InputRef.path("/etc/passwd");
    run.getSpec().training.tokens = 5_000_000_000L;
    run.getSpec().storage = null;
    client.resource(run).create();
    PretrainRun failed =
        cluster.awaitStatus(PretrainRun.class, "ptr5", s -> s.phase == Phase.Failed);
    String message = failed.getStatus().condition(Conditions.FAILED).getMessage();
    assertThat(failed.getStatus().condition(Conditions.FAILED).getReason())
        .isEqualTo(Conditions.REASON_INVALID_SPEC);
    assertThat(message)
        .contains("input.path must be a path inside the storage volume")
        .contains("training needs exactly one of steps and tokens")
        .contains("spec.storage.claimName is required");
    assertThat(client.batch().v1().jobs().withLabel(Labels.NAME, "ptr5").list().getItems())
        .isEmpty();
  }
}
