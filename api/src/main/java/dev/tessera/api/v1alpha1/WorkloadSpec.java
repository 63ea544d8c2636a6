package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.LocalObjectReference;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * What every Tessera resource says about where and how its pods run (DESIGN.md §4). These fields
 * shape the pods, not the work: changing them on a running resource is applied where Kubernetes
 * allows it ({@code suspend}, {@code backoffLimit}, {@code ttlSecondsAfterFinished}) and refused
 * otherwise.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public abstract class WorkloadSpec {

  @JsonPropertyDescription(
      "Container image of the worker; default: the operator's configured curator or trainer image.")
  public String image;

  @JsonPropertyDescription("Image pull policy of the worker container.")
  @Pattern("^(Always|IfNotPresent|Never)$")
  public String imagePullPolicy;

  @JsonPropertyDescription(
      "Secrets in the resource's namespace for pulling the worker image from a private registry;"
          + " default: the operator's workerImagePullSecrets.")
  public List<LocalObjectReference> imagePullSecrets;

  @JsonPropertyDescription("CPU, memory and GPU requests and limits of each worker pod.")
  public ResourceRequirements resources;

  @JsonPropertyDescription("Node labels the worker pods must match.")
  public Map<String, String> nodeSelector;

  @JsonPropertyDescription("Tolerations of the worker pods.")
  public List<Toleration> tolerations;

  @JsonPropertyDescription("Extra environment variables of the worker container.")
  public List<EnvVar> env;

  @JsonPropertyDescription(
      "The PersistentVolumeClaim mounted into every pod; all paths in the spec are relative to it.")
  public StorageSpec storage;

  @JsonPropertyDescription(
      "Suspends the stage: no pods run until it is false again (Kueue sets the child Jobs' own"
          + " suspension when queueName is given).")
  public Boolean suspend;

  @JsonPropertyDescription(
      "Failed attempts retried before the stage fails; pod disruptions and preemptions do not"
          + " count. Default 3.")
  @Min(0)
  public Integer backoffLimit;

  @JsonPropertyDescription("Seconds after completion before the child Jobs are deleted.")
  @Min(0)
  public Integer ttlSecondsAfterFinished;

  @JsonPropertyDescription(
      "Kueue LocalQueue; passed to the child Jobs as the kueue.x-k8s.io/queue-name label.")
  @Pattern("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
  public String queueName;

  /** The retry budget with its default. */
  public int backoffLimitOrDefault() {
    return backoffLimit == null ? 3 : backoffLimit;
  }

  public boolean suspended() {
    return Boolean.TRUE.equals(suspend);
  }

  /** Whether the pods' resources request or limit at least one {@code nvidia.com/gpu}. */
  public boolean asksForGpus() {
    if (resources == null) {
      return false;
    }
    for (Map<String, Quantity> amounts :
        Arrays.asList(resources.getLimits(), resources.getRequests())) {
      Quantity gpus = amounts == null ? null : amounts.get("nvidia.com/gpu");
      if (gpus != null && gpus.getNumericalAmount().signum() > 0) {
        return true;
      }
    }
    return false;
  }
}
