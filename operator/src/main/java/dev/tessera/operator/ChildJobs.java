package dev.tessera.operator;

import dev.tessera.api.v1alpha1.WorkloadSpec;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.PodFailurePolicyRule;
import io.fabric8.kubernetes.api.model.batch.v1.PodFailurePolicyRuleBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Indexed Job every stage runs as. Retries are the operator's, not the Job controller's ({@code
 * backoffLimit: 0}): the operator counts them in the resource's status, and restarts a training
 * gang as a whole. The {@code podFailurePolicy} keeps disruptions (preemption, eviction, node
 * drain: the {@code DisruptionTarget} condition) from counting, and fails the Job at once on exit
 * codes that mean the input is wrong.
 */
final class ChildJobs {
  private ChildJobs() {}

  /**
   * @param gang whether the pods only make sense together (training ranks): a disrupted pod then
   *     fails the whole Job, and the operator restarts it without counting; otherwise the Job
   *     controller replaces just that pod
   */
  static Job indexed(
      HasMetadata owner,
      WorkloadSpec spec,
      String jobName,
      Map<String, String> labels,
      int pods,
      boolean gang,
      PodTemplateSpec template) {
    Map<String, String> jobLabels = new LinkedHashMap<>(labels);
    if (spec.queueName != null) {
      jobLabels.put(Labels.KUEUE_QUEUE, spec.queueName);
    }
    List<PodFailurePolicyRule> rules = new ArrayList<>();
    rules.add(
        new PodFailurePolicyRuleBuilder()
            .withAction("FailJob")
            .withNewOnExitCodes()
            .withContainerName(WorkerPod.CONTAINER)
            .withOperator("In")
            .withValues(new ArrayList<>(JobFailure.PERMANENT_EXIT_CODES.stream().sorted().toList()))
            .endOnExitCodes()
            .build());
    rules.add(
        new PodFailurePolicyRuleBuilder()
            .withAction(gang ? "FailJob" : "Ignore")
            .addNewOnPodCondition()
            .withType("DisruptionTarget")
            .withStatus("True")
            .endOnPodCondition()
            .build());
    return new JobBuilder()
        .withNewMetadata()
        .withName(jobName)
        .withNamespace(owner.getMetadata().getNamespace())
        .withLabels(jobLabels)
        .withOwnerReferences(ProgressChannel.ownerReference(owner))
        .endMetadata()
        .withNewSpec()
        .withCompletionMode("Indexed")
        .withCompletions(pods)
        .withParallelism(pods)
        .withBackoffLimit(0)
        .withSuspend(spec.suspended())
        .withTtlSecondsAfterFinished(spec.ttlSecondsAfterFinished)
        .withNewPodFailurePolicy()
        .withRules(rules)
        .endPodFailurePolicy()
        .withTemplate(template)
        .endSpec()
        .build();
  }
}
