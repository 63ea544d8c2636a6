package dev.tessera.operator;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.api.progress.ProgressFold;
import dev.tessera.api.v1alpha1.CheckpointSpec;
import dev.tessera.api.v1alpha1.DistributedSpec;
import dev.tessera.api.v1alpha1.TesseraStatus;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.CustomResource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * PretrainRun and FinetuneRun: a headless Service and an Indexed Job of {@code nodes} pods, each
 * asking for its GPUs, with rank, world size and the rendezvous address (pod 0's stable DNS name)
 * in its environment. A failed attempt is restarted as a whole gang; the trainer resumes from the
 * newest verified checkpoint in its run directory, which the status names as {@code
 * latestCheckpoint} and the restarted pods get as {@code TESSERA_RESUME_FROM}.
 */
abstract class TrainingReconciler<
        S extends DistributedSpec, R extends CustomResource<S, TesseraStatus>>
    extends StageReconciler<S, R> {
  static final int RENDEZVOUS_PORT = 29500;
  static final String STAGE = "train";
  static final String GPU = "nvidia.com/gpu";

  TrainingReconciler(Class<R> type, OperatorConfig config, TesseraMetrics metrics) {
    super(type, config, metrics);
  }

  /** The worker's subcommand and its own arguments (data, init, model). */
  protected abstract List<String> command(R resource, String input);

  @Override
  protected List<String> stages(R resource) {
    return List.of(STAGE);
  }

  static String serviceName(HasMetadata resource) {
    return resource.getMetadata().getName() + "-ranks";
  }

  @Override
  protected List<HasMetadata> extras(R resource) {
    Map<String, String> selector = Labels.of(resource);
    return List.of(
        new ServiceBuilder()
            .withMetadata(ProgressChannel.childMetadata(resource, serviceName(resource)))
            .withNewSpec()
            .withClusterIP("None")
            // Ranks meet before any of them is ready.
            .withPublishNotReadyAddresses(true)
            .withSelector(selector)
            .addNewPort()
            .withName("rendezvous")
            .withPort(RENDEZVOUS_PORT)
            .endPort()
            .endSpec()
            .build());
  }

  @Override
  protected Job job(R resource, String stage, String jobName, List<String> inputs, int attempt) {
    S spec = resource.getSpec();
    String input = inputs.get(0);
    int nodes = spec.nodesOrDefault();
    int gpus = spec.gpusPerNodeOrDefault();
    List<String> args = new ArrayList<>(command(resource, input));
    args.addAll(List.of("--out", spec.output));
    args.addAll(spec.trainerOptions());
    // Each node's GPUs (or its one CPU rank) are threads of one JVM; several nodes meet at pod 0,
    // each pod running ranks index × G to index × G + G - 1.
    args.addAll(List.of("--ranks", String.valueOf(spec.worldSize())));
    if (nodes > 1) {
      args.addAll(List.of("--local-ranks", String.valueOf(Math.max(1, gpus))));
    }
    args.addAll(List.of("--backend", gpus > 0 ? "cuda" : "cpu"));
    WorkerPod pod =
        new WorkerPod(
                resource,
                spec,
                gpus > 0 ? config.images().trainerCuda() : config.images().trainer(),
                args)
            .resources(withGpus(spec.resources, gpus))
            .labels(jobLabels(resource, stage, attempt))
            .pullSecrets(config.workerImagePullSecrets())
            .subdomain(serviceName(resource))
            .sharedMemory(spec.sharedMemory == null ? "8Gi" : spec.sharedMemory)
            // SIGTERM makes the trainer checkpoint the step it is in; give it the time.
            .terminationGracePeriod(CheckpointSpec.stopGracePeriodSeconds(spec.checkpoints))
            .env("TESSERA_NODES", String.valueOf(nodes))
            .env("TESSERA_GPUS_PER_NODE", String.valueOf(gpus))
            .env("TESSERA_WORLD_SIZE", String.valueOf(spec.worldSize()));
    if (nodes > 1) {
      pod.env(
          "TESSERA_RENDEZVOUS",
          jobName
              + "-0."
              + serviceName(resource)
              + "."
              + namespace(resource)
              + ".svc:"
              + RENDEZVOUS_PORT);
    }
    TesseraStatus status = resource.getStatus();
    if (status != null && status.latestCheckpoint != null && status.latestCheckpoint.path != null) {
      pod.env("TESSERA_RESUME_FROM", status.latestCheckpoint.path);
    }
    var template = pod.build();
    template
        .getSpec()
        .getContainers()
        .get(0)
        .getEnv()
        .add(
            new EnvVarBuilder()
                .withName("TESSERA_RANK")
                .withNewValueFrom()
                .withNewFieldRef()
                .withFieldPath("metadata.annotations['" + JobFailure.COMPLETION_INDEX + "']")
                .endFieldRef()
                .endValueFrom()
                .build());
    return ChildJobs.indexed(
        resource, spec, jobName, jobLabels(resource, stage, attempt), nodes, true, template);
  }

  /** The resources with {@code nvidia.com/gpu} limited to the node's GPUs, unless they say. */
  static ResourceRequirements withGpus(ResourceRequirements asked, int gpus) {
    if (gpus == 0) {
      return asked;
    }
    ResourceRequirements resources =
        asked == null ? new ResourceRequirements() : new ResourceRequirementsBuilder(asked).build();
    Map<String, Quantity> limits =
        resources.getLimits() == null
            ? new LinkedHashMap<>()
            : new LinkedHashMap<>(resources.getLimits());
    limits.putIfAbsent(GPU, new Quantity(String.valueOf(gpus)));
    resources.setLimits(limits);
    return resources;
  }

  @Override
  protected String outputPath(R resource) {
    return resource.getSpec().output;
  }

  @Override
  protected void foldProgress(
      R resource,
      TesseraStatus status,
      Map<String, JsonNode> reports,
      String stage,
      int stagesDone) {
    ProgressFold.training(status, reports);
  }
}
