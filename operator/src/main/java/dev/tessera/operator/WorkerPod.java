package dev.tessera.operator;

import dev.tessera.api.v1alpha1.StorageSpec;
import dev.tessera.api.v1alpha1.WorkloadSpec;
import io.fabric8.kubernetes.api.model.Capabilities;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.LocalObjectReference;
import io.fabric8.kubernetes.api.model.PodSecurityContextBuilder;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpecBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.SeccompProfileBuilder;
import io.fabric8.kubernetes.api.model.SecurityContextBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The pod every worker runs in: the storage volume mounted as the working directory, the progress
 * ConfigMap named in its environment, and secure defaults (non-root, read-only root filesystem, no
 * privilege escalation, no capabilities, the runtime's seccomp profile).
 */
final class WorkerPod {
  static final String CONTAINER = "worker";
  static final long USER_ID = 1000;

  private final HasMetadata owner;
  private final WorkloadSpec spec;
  private final String image;
  private final List<String> args;
  private final List<EnvVar> env = new ArrayList<>();
  private final List<Volume> volumes = new ArrayList<>();
  private final List<VolumeMount> mounts = new ArrayList<>();
  private Map<String, String> labels;
  private String subdomain;
  private Long terminationGracePeriodSeconds;
  private ResourceRequirements resources;
  private List<LocalObjectReference> pullSecrets = List.of();

  WorkerPod(HasMetadata owner, WorkloadSpec spec, String defaultImage, List<String> args) {
    this.owner = owner;
    this.spec = spec;
    this.image = spec.image != null ? spec.image : defaultImage;
    this.args = args;
    this.resources = spec.resources;
    StorageSpec storage = spec.storage;
    volumes.add(
        new VolumeBuilder()
            .withName("data")
            .withNewPersistentVolumeClaim()
            .withClaimName(storage.claimName)
            .endPersistentVolumeClaim()
            .build());
    mounts.add(mount("data", storage.mountPathOrDefault()));
    // The root filesystem is read-only; the JVM and the tools still need a scratch directory.
    volumes.add(new VolumeBuilder().withName("tmp").withNewEmptyDir().endEmptyDir().build());
    mounts.add(mount("tmp", "/tmp"));
    env("TESSERA_PROGRESS_CONFIGMAP", ProgressChannel.configMapName(owner));
    env("TESSERA_KIND", owner.getKind());
    env("TESSERA_NAME", owner.getMetadata().getName());
    env.add(
        new EnvVarBuilder()
            .withName("POD_NAME")
            .withNewValueFrom()
            .withNewFieldRef()
            .withFieldPath("metadata.name")
            .endFieldRef()
            .endValueFrom()
            .build());
    env.add(
        new EnvVarBuilder()
            .withName("POD_NAMESPACE")
            .withNewValueFrom()
            .withNewFieldRef()
            .withFieldPath("metadata.namespace")
            .endFieldRef()
            .endValueFrom()
            .build());
  }

  /** The operator's pull secrets, for a resource that names none. */
  WorkerPod pullSecrets(java.util.Optional<List<String>> names) {
    this.pullSecrets =
        names.orElse(List.of()).stream()
            .filter(name -> !name.isBlank())
            .map(name -> new LocalObjectReference(name.strip()))
            .toList();
    return this;
  }

  WorkerPod env(String name, String value) {
    env.add(new EnvVar(name, value, null));
    return this;
  }

  WorkerPod labels(Map<String, String> labels) {
    this.labels = labels;
    return this;
  }

  /** A ConfigMap mounted read-only at {@code path}. */
  WorkerPod configMap(String volume, String configMap, String path) {
    volumes.add(
        new VolumeBuilder()
            .withName(volume)
            .withNewConfigMap()
            .withName(configMap)
            .endConfigMap()
            .build());
    mounts.add(
        new VolumeMountBuilder().withName(volume).withMountPath(path).withReadOnly().build());
    return this;
  }

  /** Shared memory for data-loader threads and NCCL (the container default is 64 MiB). */
  WorkerPod sharedMemory(String size) {
    volumes.add(
        new VolumeBuilder()
            .withName("dshm")
            .withNewEmptyDir()
            .withMedium("Memory")
            .withSizeLimit(new Quantity(size))
            .endEmptyDir()
            .build());
    mounts.add(mount("dshm", "/dev/shm"));
    return this;
  }

  WorkerPod resources(ResourceRequirements resources) {
    this.resources = resources;
    return this;
  }

  /** Seconds between SIGTERM and SIGKILL (Kubernetes' default 30 when not set). */
  WorkerPod terminationGracePeriod(long seconds) {
    this.terminationGracePeriodSeconds = seconds;
    return this;
  }

  /** Gives the pods stable DNS names under a headless Service ({@code <pod>.<subdomain>}). */
  WorkerPod subdomain(String service) {
    this.subdomain = service;
    return this;
  }

  PodTemplateSpec build() {
    List<EnvVar> all = new ArrayList<>(env);
    if (spec.env != null) {
      all.addAll(spec.env);
    }
    return new PodTemplateSpecBuilder()
        .withNewMetadata()
        .withLabels(labels)
        .endMetadata()
        .withNewSpec()
        .withRestartPolicy("Never")
        .withServiceAccountName(ProgressChannel.serviceAccountName(owner))
        .withSubdomain(subdomain)
        .withTerminationGracePeriodSeconds(terminationGracePeriodSeconds)
        .withImagePullSecrets(spec.imagePullSecrets != null ? spec.imagePullSecrets : pullSecrets)
        .withNodeSelector(spec.nodeSelector)
        .withTolerations(spec.tolerations)
        .withSecurityContext(
            new PodSecurityContextBuilder()
                .withRunAsNonRoot(true)
                .withRunAsUser(USER_ID)
                .withRunAsGroup(USER_ID)
                .withFsGroup(USER_ID)
                .withSeccompProfile(new SeccompProfileBuilder().withType("RuntimeDefault").build())
                .build())
        .withVolumes(volumes)
        .withContainers(
            new ContainerBuilder()
                .withName(CONTAINER)
                .withImage(image)
                .withImagePullPolicy(spec.imagePullPolicy)
                .withArgs(args)
                .withWorkingDir(spec.storage.mountPathOrDefault())
                .withEnv(all)
                .withResources(resources)
                .withVolumeMounts(mounts)
                // The last log lines become the termination message, so a failure's cause
                // reaches the resource's conditions even when the worker could not say it.
                .withTerminationMessagePolicy("FallbackToLogsOnError")
                .withSecurityContext(
                    new SecurityContextBuilder()
                        .withRunAsNonRoot(true)
                        .withReadOnlyRootFilesystem(true)
                        .withAllowPrivilegeEscalation(false)
                        .withCapabilities(new Capabilities(null, List.of("ALL")))
                        .build())
                .build())
        .endSpec()
        .build();
  }

  private static VolumeMount mount(String name, String path) {
    return new VolumeMountBuilder().withName(name).withMountPath(path).build();
  }
}
