package dev.tessera.operator;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.api.progress.ProgressFold;
import dev.tessera.api.v1alpha1.CurationJob;
import dev.tessera.api.v1alpha1.CurationJobSpec;
import dev.tessera.api.v1alpha1.InputRef;
import dev.tessera.api.v1alpha1.SpecValidation;
import dev.tessera.api.v1alpha1.TesseraStatus;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import jakarta.inject.Singleton;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * CurationJob: score in parallel over the input shards (worker i of n takes shards i, i+n, …), one
 * global select, reshard in parallel. The spec's curation part reaches the worker as its {@code
 * curation.yaml} through a ConfigMap.
 */
@ControllerConfiguration(name = "curationjob")
@Singleton
public class CurationJobReconciler extends StageReconciler<CurationJobSpec, CurationJob> {
  static final List<String> STAGES = List.of("score", "select", "reshard");
  static final String SPEC_DIR = "/etc/tessera";

  public CurationJobReconciler(OperatorConfig config, TesseraMetrics metrics) {
    super(CurationJob.class, config, metrics);
  }

  @Override
  protected List<String> validate(CurationJob resource) {
    return SpecValidation.problems(resource);
  }

  @Override
  protected List<InputRef> inputs(CurationJob resource) {
    // Its input is raw shards, a path the curator itself resolves from the spec file.
    return List.of();
  }

  @Override
  protected List<String> stages(CurationJob resource) {
    return STAGES;
  }

  static String specConfigMap(HasMetadata resource) {
    return resource.getMetadata().getName() + "-spec";
  }

  @Override
  protected List<HasMetadata> extras(CurationJob resource) {
    return List.of(
        new ConfigMapBuilder()
            .withMetadata(ProgressChannel.childMetadata(resource, specConfigMap(resource)))
            // JSON is YAML: the worker reads it as its curation.yaml.
            .withData(Map.of("curation.yaml", json(resource.getSpec().workerSpec())))
            .build());
  }

  @Override
  protected Job job(
      CurationJob resource, String stage, String jobName, List<String> inputs, int attempt) {
    CurationJobSpec spec = resource.getSpec();
    int pods = "select".equals(stage) ? 1 : spec.parallelismOrDefault();
    List<String> args =
        new ArrayList<>(
            List.of(
                "curate",
                "--config",
                SPEC_DIR + "/curation.yaml",
                // Paths in the spec are on the volume, not next to the mounted ConfigMap.
                "--paths-relative-to",
                spec.storage.mountPathOrDefault(),
                "--out",
                spec.output.path,
                "--phase",
                stage,
                "--shard-count",
                String.valueOf(pods)));
    boolean onGpu = "score".equals(stage) && spec.asksForGpus();
    if (onGpu) {
      // The model scorers (clipScore, mlmFilter) run on the pod's GPU.
      args.addAll(List.of("--backend", "cuda"));
    }
    WorkerPod pod =
        new WorkerPod(
                resource,
                spec,
                onGpu ? config.images().curatorCuda() : config.images().curator(),
                args)
            .labels(jobLabels(resource, stage, attempt))
            .pullSecrets(config.workerImagePullSecrets())
            .configMap("spec", specConfigMap(resource), SPEC_DIR);
    return ChildJobs.indexed(
        resource, spec, jobName, jobLabels(resource, stage, attempt), pods, false, pod.build());
  }

  @Override
  protected String outputPath(CurationJob resource) {
    return resource.getSpec().output.path + "/shards";
  }

  @Override
  protected void foldProgress(
      CurationJob resource,
      TesseraStatus status,
      Map<String, JsonNode> reports,
      String stage,
      int stagesDone) {
    ProgressFold.curation(status, reports, stage, stagesDone, STAGES.size());
  }
}
