package dev.tessera.operator;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.api.progress.ProgressFold;
import dev.tessera.api.v1alpha1.InputRef;
import dev.tessera.api.v1alpha1.PackJob;
import dev.tessera.api.v1alpha1.PackJobSpec;
import dev.tessera.api.v1alpha1.SpecValidation;
import dev.tessera.api.v1alpha1.TesseraStatus;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import jakarta.inject.Singleton;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * PackJob: one pod packs the whole input together (global first-fit decreasing needs every length),
 * with {@code parallelism} threads; {@code --resume} makes a restarted attempt continue.
 */
@ControllerConfiguration(name = "packjob")
@Singleton
public class PackJobReconciler extends StageReconciler<PackJobSpec, PackJob> {
  public PackJobReconciler(OperatorConfig config, TesseraMetrics metrics) {
    super(PackJob.class, config, metrics);
  }

  @Override
  protected List<String> validate(PackJob resource) {
    return SpecValidation.problems(resource);
  }

  @Override
  protected List<InputRef> inputs(PackJob resource) {
    return resource.getSpec().inputList();
  }

  @Override
  protected List<String> stages(PackJob resource) {
    return List.of("pack");
  }

  @Override
  protected Job job(
      PackJob resource, String stage, String jobName, List<String> inputs, int attempt) {
    PackJobSpec spec = resource.getSpec();
    List<String> args = new ArrayList<>(List.of("pack"));
    // Several inputs pack together, their shards in this order, each repeated as its spec says.
    args.addAll(spec.packerInputs(inputs));
    args.addAll(List.of("--out", spec.output, "--tokenizer", spec.tokenizer, "--resume"));
    args.addAll(spec.packerOptions());
    WorkerPod pod =
        new WorkerPod(resource, spec, config.images().curator(), args)
            .labels(jobLabels(resource, stage, attempt))
            .pullSecrets(config.workerImagePullSecrets());
    return ChildJobs.indexed(
        resource, spec, jobName, jobLabels(resource, stage, attempt), 1, false, pod.build());
  }

  @Override
  protected String outputPath(PackJob resource) {
    return resource.getSpec().output;
  }

  @Override
  protected void foldProgress(
      PackJob resource,
      TesseraStatus status,
      Map<String, JsonNode> reports,
      String stage,
      int stagesDone) {
    ProgressFold.packing(status, reports);
  }
}
