package dev.tessera.operator;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tessera.api.progress.ProgressFold;
import dev.tessera.api.v1alpha1.Conditions;
import dev.tessera.api.v1alpha1.CurationJob;
import dev.tessera.api.v1alpha1.InputRef;
import dev.tessera.api.v1alpha1.OutputRecord;
import dev.tessera.api.v1alpha1.PackJob;
import dev.tessera.api.v1alpha1.Phase;
import dev.tessera.api.v1alpha1.PretrainRun;
import dev.tessera.api.v1alpha1.TesseraStatus;
import dev.tessera.api.v1alpha1.WorkloadSpec;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The life every Tessera resource shares: validate the spec, wait for the input resource, create
 * the progress channel, run the stages' Jobs one after the other (restarting a failed attempt while
 * the retry budget lasts, not counting disruptions), fold the workers' reports into the status, and
 * report the outcome. Subclasses say what the stages are and what their Jobs run.
 *
 * <p>Children are named deterministically ({@code <name>-<stage>}, then {@code -r<attempt>}) and
 * created only when absent, so restarting the operator never duplicates them, and a child Job
 * deleted by hand is recreated.
 */
public abstract class StageReconciler<
        S extends WorkloadSpec, R extends CustomResource<S, TesseraStatus>>
    implements Reconciler<R> {

  static final ObjectMapper JSON =
      new ObjectMapper().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

  private final Class<R> type;
  protected final OperatorConfig config;
  private final TesseraMetrics metrics;

  protected StageReconciler(Class<R> type, OperatorConfig config, TesseraMetrics metrics) {
    this.type = type;
    this.config = config;
    this.metrics = metrics;
  }

  // ---- what a kind says about itself ---------------------------------------------------------

  /** Problems with the spec ({@code SpecValidation}); empty when it is valid. */
  protected abstract List<String> validate(R resource);

  /**
   * The inputs in order: resources, which must have succeeded before the Jobs start, or paths on
   * the volume; empty when the kind reads none.
   */
  protected abstract List<InputRef> inputs(R resource);

  /** The stages in order, e.g. score, select, reshard. */
  protected abstract List<String> stages(R resource);

  /**
   * The Job of {@code stage}, attempt {@code attempt}, with {@code inputs} the resolved input paths
   * in the order of {@link #inputs} (each input resource's output, or the spec's path).
   */
  protected abstract Job job(
      R resource, String stage, String jobName, List<String> inputs, int attempt);

  /** Objects the Jobs need besides the progress channel (a spec ConfigMap, a Service). */
  protected List<HasMetadata> extras(R resource) {
    return List.of();
  }

  /**
   * The spec without the fields that apply to a running stage ({@code suspend}, {@code
   * backoffLimit}): the rest shapes the Jobs already made, so it cannot change once one exists.
   */
  protected Object workSpec(R resource) {
    var tree = JSON.valueToTree(resource.getSpec());
    ((com.fasterxml.jackson.databind.node.ObjectNode) tree)
        .remove(List.of("suspend", "backoffLimit"));
    return tree;
  }

  /** Where the output lands, reported in {@code status.output} on success. */
  protected abstract String outputPath(R resource);

  /** Folds the worker reports for the current stage into the status. */
  protected abstract void foldProgress(
      R resource,
      TesseraStatus status,
      Map<String, JsonNode> reports,
      String stage,
      int stagesDone);

  // ---- event sources --------------------------------------------------------------------------

  @Override
  public List<EventSource<?, R>> prepareEventSources(EventSourceContext<R> context) {
    metrics.watch(context.getPrimaryCache());
    String kind = HasMetadata.getKind(type);
    List<EventSource<?, R>> sources = new ArrayList<>();
    sources.add(informer(context, Job.class, kind));
    sources.add(informer(context, Pod.class, kind));
    sources.add(informer(context, ConfigMap.class, kind));
    return sources;
  }

  private static <T extends HasMetadata, R extends HasMetadata> InformerEventSource<T, R> informer(
      EventSourceContext<R> context, Class<T> child, String kind) {
    return new InformerEventSource<>(
        InformerEventSourceConfiguration.from(child, context.getPrimaryResourceClass())
            .withLabelSelector(Labels.selectorFor(kind))
            .withSecondaryToPrimaryMapper(Labels.<T>toOwner())
            .build(),
        context);
  }

  // ---- reconcile ------------------------------------------------------------------------------

  @Override
  public UpdateControl<R> reconcile(R resource, Context<R> context) {
    TesseraStatus before =
        resource.getStatus() == null ? new TesseraStatus() : resource.getStatus();
    TesseraStatus status = copy(before);
    Instant now = Instant.now();
    List<Runnable> afterStep = new ArrayList<>();
    Duration pollAfter = step(resource, status, context, now, afterStep);
    // What the step left for later (a new resource's Role, RoleBinding and progress ConfigMap) is
    // created once its Job has been: the Job is on the way to running pods, they are not. A failed
    // creation fails the reconcile, so that JOSDK retries it.
    afterStep.forEach(Runnable::run);
    status.observedGeneration = resource.getMetadata().getGeneration();
    if (status.stagesDone != null && status.stagesDone.isEmpty()) {
      // Written as absent, as the API server may store it: an empty list is no change to write.
      status.stagesDone = null;
    }
    UpdateControl<R> control;
    if (json(status).equals(json(before))) {
      control = UpdateControl.noUpdate();
    } else {
      resource.setStatus(status);
      control = UpdateControl.patchStatus(resource);
    }
    if (pollAfter != null) {
      control.rescheduleAfter(pollAfter);
    }
    return control;
  }

  private static void podsPending(
      TesseraStatus status, String jobName, long generation, Instant now) {
    status.setCondition(
        Conditions.RUNNING,
        false,
        "PodsPending",
        "Job " + jobName + " has no running pod yet",
        generation,
        now);
  }

  @Override
  public ErrorStatusUpdateControl<R> updateErrorStatus(
      R resource, Context<R> context, Exception e) {
    TesseraStatus status =
        resource.getStatus() == null ? new TesseraStatus() : resource.getStatus();
    status.setCondition(
        "Reconciled",
        false,
        "ReconcileError",
        String.valueOf(e.getMessage()),
        generation(resource),
        Instant.now());
    resource.setStatus(status);
    return ErrorStatusUpdateControl.patchStatus(resource);
  }

  /** One pass over the resource's life; returns when to look again without an event, or null. */
  private Duration step(
      R resource, TesseraStatus status, Context<R> context, Instant now, List<Runnable> afterStep) {
    long generation = generation(resource);
    status.conditions.removeIf(c -> c.getType().equals("Reconciled"));
    List<String> problems = new ArrayList<>(validate(resource));
    Storage.require(resource.getSpec(), problems);
    if (!problems.isEmpty()) {
      fail(
          resource,
          status,
          Conditions.REASON_INVALID_SPEC,
          String.join("; ", problems),
          now,
          context);
      return null;
    }
    if (status.phase != null && status.phase.finished()) {
      if (!Objects.equals(status.observedGeneration, generation)) {
        status.setCondition(
            Conditions.SPEC_APPLIED,
            false,
            Conditions.REASON_SPEC_CHANGE_REFUSED,
            "the "
                + HasMetadata.getKind(type)
                + " has "
                + status.phase.name().toLowerCase()
                + "; a finished stage does not run again: create a new resource to change it",
            generation,
            now);
      }
      return null;
    }
    // The inputs: the resources among them must all have succeeded first.
    List<String> inputPaths = new ArrayList<>();
    List<String> succeeded = new ArrayList<>();
    List<String> waitingFor = new ArrayList<>();
    for (InputRef ref : inputs(resource)) {
      if (ref.kind() == null) {
        inputPaths.add(ref.path);
        continue;
      }
      HasMetadata upstream = fetch(context.getClient(), ref, namespace(resource));
      TesseraStatus upstreamStatus = statusOf(upstream);
      Phase upstreamPhase = upstreamStatus == null ? null : upstreamStatus.phase;
      if (upstreamPhase == Phase.Failed) {
        String why =
            upstreamStatus.condition(Conditions.FAILED) == null
                ? ""
                : ": " + upstreamStatus.condition(Conditions.FAILED).getMessage();
        status.setCondition(
            Conditions.INPUT_READY,
            false,
            Conditions.REASON_INPUT_FAILED,
            ref.kind() + " " + ref.name() + " failed" + why,
            generation,
            now);
        fail(
            resource,
            status,
            Conditions.REASON_INPUT_FAILED,
            ref.kind() + " " + ref.name() + " failed" + why,
            now,
            context);
        return null;
      }
      if (upstreamPhase != Phase.Succeeded) {
        waitingFor.add(
            ref.kind()
                + " "
                + ref.name()
                + (upstream == null
                    ? " (not found)"
                    : " (phase " + (upstreamPhase == null ? "none" : upstreamPhase) + ")"));
        continue;
      }
      String path = upstreamStatus.output == null ? null : upstreamStatus.output.path;
      inputPaths.add(path);
      succeeded.add(ref.kind() + " " + ref.name() + " succeeded: " + path);
    }
    if (!waitingFor.isEmpty()) {
      status.phase = Phase.Waiting;
      status.setCondition(
          Conditions.INPUT_READY,
          false,
          Conditions.REASON_WAITING,
          "waiting for " + String.join(", ", waitingFor),
          generation,
          now);
      return config.waitingPoll();
    }
    if (succeeded.isEmpty()) {
      status.setCondition(
          Conditions.INPUT_READY, true, "Path", "input on the volume", generation, now);
    } else {
      status.setCondition(
          Conditions.INPUT_READY,
          true,
          "InputSucceeded",
          String.join("; ", succeeded),
          generation,
          now);
    }

    ensureChannel(resource, context, afterStep);

    List<String> stages = stages(resource);
    if (status.stagesDone == null) {
      status.stagesDone = new ArrayList<>();
    }
    Map<String, JsonNode> reports =
        ProgressFold.reports(
            context.getSecondaryResources(ConfigMap.class).stream()
                .filter(
                    c -> c.getMetadata().getName().equals(ProgressChannel.configMapName(resource)))
                .findFirst()
                .map(ConfigMap::getData)
                .orElse(null));
    for (String stage : stages) {
      if (status.stagesDone.contains(stage)) {
        continue;
      }
      int attempt = status.attempt();
      String jobName = jobName(resource, stage, attempt);
      Job job =
          context.getSecondaryResources(Job.class).stream()
              .filter(j -> j.getMetadata().getName().equals(jobName))
              .findFirst()
              .orElse(null);
      foldProgress(resource, status, reports, stage, status.stagesDone.size());
      if (job == null) {
        Job desired = job(resource, stage, jobName, inputPaths, attempt);
        annotateWorkSpec(desired, resource);
        create(context.getClient(), desired);
        deleteOtherAttempts(resource, context, stage, jobName);
        if (status.startTime == null) {
          status.startTime = now.toString();
        }
        status.phase = resource.getSpec().suspended() ? Phase.Suspended : Phase.Pending;
        var previous = status.condition(Conditions.RUNNING);
        if (attempt == 0 || previous == null || "True".equals(previous.getStatus())) {
          // What the next reconcile, woken by the new Job, finds: no second status write.
          podsPending(status, jobName, generation, now);
        } else {
          // A restart: the reason of the failed attempt stays until the new one runs.
          status.setCondition(
              Conditions.RUNNING,
              false,
              previous.getReason(),
              previous.getMessage() + "; created Job " + jobName,
              generation,
              now);
        }
        suspended(resource, status, resource.getSpec().suspended(), generation, now);
        status.setCondition(Conditions.SPEC_APPLIED, true, "Applied", "", generation, now);
        return null;
      }
      refuseWorkChanges(resource, status, job, generation, now);
      applySuspend(resource, job, context.getClient());
      if (JobFailure.jobCondition(job, "Complete") != null) {
        status.stagesDone.add(stage);
        Events.record(
            context.getClient(),
            resource,
            "Normal",
            "StageComplete",
            "stage " + stage + " complete (Job " + jobName + ")");
        continue;
      }
      if (JobFailure.jobCondition(job, "Failed") != null) {
        JobFailure failure = JobFailure.of(job, pods(context, stage, attempt));
        int restarts = status.restarts == null ? 0 : status.restarts;
        if (failure.disruption()) {
          status.disruptions = (status.disruptions == null ? 0 : status.disruptions) + 1;
          restart(
              resource, status, context, job, failure, "disruption, not counted", generation, now);
          return null;
        }
        if (failure.permanent() || restarts >= resource.getSpec().backoffLimitOrDefault()) {
          String budget =
              failure.permanent()
                  ? ""
                  : " (retried "
                      + restarts
                      + " of "
                      + resource.getSpec().backoffLimitOrDefault()
                      + " times)";
          fail(resource, status, failure.reason(), failure.message() + budget, now, context);
          return null;
        }
        status.restarts = restarts + 1;
        restart(
            resource,
            status,
            context,
            job,
            failure,
            "restart " + status.restarts + " of " + resource.getSpec().backoffLimitOrDefault(),
            generation,
            now);
        return null;
      }
      boolean suspended = Boolean.TRUE.equals(job.getSpec().getSuspend());
      suspended(resource, status, suspended, generation, now);
      boolean active =
          job.getStatus() != null
              && job.getStatus().getActive() != null
              && job.getStatus().getActive() > 0;
      PodTrouble trouble = active ? PodTrouble.of(pods(context, stage, attempt)) : null;
      if (suspended) {
        status.phase = Phase.Suspended;
        status.setCondition(
            Conditions.RUNNING,
            false,
            "Suspended",
            "Job " + jobName + " is suspended",
            generation,
            now);
      } else if (trouble != null) {
        // Active to the Job controller, but stuck: say why, once as an event.
        status.phase = Phase.Pending;
        var previous = status.condition(Conditions.RUNNING);
        if (previous == null || !trouble.reason().equals(previous.getReason())) {
          Events.record(
              context.getClient(), resource, "Warning", trouble.reason(), trouble.message());
        }
        status.setCondition(
            Conditions.RUNNING,
            false,
            trouble.reason(),
            "stage " + stage + ": " + trouble.message(),
            generation,
            now);
      } else if (active) {
        status.phase = Phase.Running;
        status.setCondition(
            Conditions.RUNNING,
            true,
            "JobRunning",
            "stage "
                + stage
                + ": Job "
                + jobName
                + " has "
                + job.getStatus().getActive()
                + " active pods",
            generation,
            now);
      } else {
        status.phase = Phase.Pending;
        var previous = status.condition(Conditions.RUNNING);
        boolean restarting =
            previous != null
                && "False".equals(previous.getStatus())
                && previous.getMessage().contains("; created Job " + jobName);
        if (!restarting) {
          // Until the restarted attempt runs, its condition keeps the failed attempt's reason.
          podsPending(status, jobName, generation, now);
        }
      }
      return null;
    }
    // Every stage complete.
    foldProgress(resource, status, reports, stages.get(stages.size() - 1), stages.size());
    status.phase = Phase.Succeeded;
    status.completionTime = now.toString();
    status.output = new OutputRecord();
    status.output.path = outputPath(resource);
    status.setCondition(Conditions.RUNNING, false, "Completed", "", generation, now);
    status.setCondition(
        Conditions.COMPLETE,
        true,
        "Succeeded",
        HasMetadata.getKind(type) + " finished: " + status.output.path,
        generation,
        now);
    Events.record(
        context.getClient(), resource, "Normal", "Succeeded", "output in " + status.output.path);
    return null;
  }

  private void restart(
      R resource,
      TesseraStatus status,
      Context<R> context,
      Job job,
      JobFailure failure,
      String what,
      long generation,
      Instant now) {
    status.phase = Phase.Pending;
    status.setCondition(
        Conditions.RUNNING,
        false,
        failure.reason(),
        failure.message()
            + "; "
            + what
            + (status.latestCheckpoint != null
                ? "; resuming from " + status.latestCheckpoint.path
                : ""),
        generation,
        now);
    Events.record(
        context.getClient(),
        resource,
        "Warning",
        failure.reason(),
        failure.message() + "; " + what);
    context
        .getClient()
        .resource(job)
        .withPropagationPolicy(io.fabric8.kubernetes.api.model.DeletionPropagation.BACKGROUND)
        .delete();
  }

  private void fail(
      R resource,
      TesseraStatus status,
      String reason,
      String message,
      Instant now,
      Context<R> context) {
    long generation = generation(resource);
    boolean already = status.phase == Phase.Failed;
    status.phase = Phase.Failed;
    if (status.completionTime == null) {
      status.completionTime = now.toString();
    }
    status.setCondition(Conditions.RUNNING, false, reason, message, generation, now);
    status.setCondition(Conditions.FAILED, true, reason, message, generation, now);
    if (!already) {
      Events.record(context.getClient(), resource, "Warning", reason, message);
    }
  }

  private void suspended(
      R resource, TesseraStatus status, boolean suspended, long generation, Instant now) {
    if (!suspended) {
      status.setCondition(Conditions.SUSPENDED, false, "NotSuspended", "", generation, now);
    } else if (resource.getSpec().suspended()) {
      status.setCondition(
          Conditions.SUSPENDED, true, "Suspended", "spec.suspend is true", generation, now);
    } else {
      status.setCondition(
          Conditions.SUSPENDED,
          true,
          "Queued",
          "waiting for admission in Kueue queue " + resource.getSpec().queueName,
          generation,
          now);
    }
  }

  /**
   * Suspension is the one pod-shaping field that changes a running Job. With a Kueue queue the
   * Job's own suspension belongs to Kueue, so only a suspension asked for in the spec is pushed.
   */
  private void applySuspend(R resource, Job job, KubernetesClient client) {
    boolean want = resource.getSpec().suspended();
    boolean has = Boolean.TRUE.equals(job.getSpec().getSuspend());
    if (want == has || (!want && resource.getSpec().queueName != null)) {
      return;
    }
    client
        .batch()
        .v1()
        .jobs()
        .inNamespace(namespace(resource))
        .withName(job.getMetadata().getName())
        .edit(
            j -> {
              j.getSpec().setSuspend(want);
              return j;
            });
  }

  private void refuseWorkChanges(
      R resource, TesseraStatus status, Job job, long generation, Instant now) {
    String recorded =
        job.getMetadata().getAnnotations() == null
            ? null
            : job.getMetadata().getAnnotations().get(Labels.WORK_SPEC);
    String current = json(workSpec(resource));
    if (recorded == null || recorded.equals(current)) {
      status.setCondition(Conditions.SPEC_APPLIED, true, "Applied", "", generation, now);
      return;
    }
    Set<String> changed = changedFields(recorded, current);
    status.setCondition(
        Conditions.SPEC_APPLIED,
        false,
        Conditions.REASON_SPEC_CHANGE_REFUSED,
        "spec "
            + String.join(", ", changed)
            + " changed after the stage started and is not applied;"
            + " revert it, or delete and recreate the resource (suspend and backoffLimit apply"
            + " at once)",
        generation,
        now);
  }

  private static Set<String> changedFields(String before, String after) {
    Set<String> changed = new TreeSet<>();
    try {
      JsonNode a = JSON.readTree(before);
      JsonNode b = JSON.readTree(after);
      Set<String> names = new TreeSet<>();
      a.fieldNames().forEachRemaining(names::add);
      b.fieldNames().forEachRemaining(names::add);
      for (String name : names) {
        if (!Objects.equals(a.get(name), b.get(name))) {
          changed.add(name);
        }
      }
    } catch (JsonProcessingException e) {
      changed.add("(unreadable record)");
    }
    return changed;
  }

  private void annotateWorkSpec(Job job, R resource) {
    Map<String, String> annotations =
        job.getMetadata().getAnnotations() == null
            ? new LinkedHashMap<>()
            : new LinkedHashMap<>(job.getMetadata().getAnnotations());
    annotations.put(Labels.WORK_SPEC, json(workSpec(resource)));
    job.getMetadata().setAnnotations(annotations);
  }

  /**
   * Creates the progress channel and the extras of a new resource. What pods need before they can
   * start comes first, before the step creates the Job: the ServiceAccount and the extras (a
   * CurationJob's spec ConfigMap, a training run's rank Service). The Role and RoleBinding go to
   * {@code afterStep}, to be created once the Job has been (a worker that reports before them is
   * refused and reports again later), and the progress ConfigMap after them, so that its presence
   * means everything before it exists.
   */
  private void ensureChannel(R resource, Context<R> context, List<Runnable> afterStep) {
    String name = ProgressChannel.configMapName(resource);
    boolean present =
        context.getSecondaryResources(ConfigMap.class).stream()
            .anyMatch(c -> c.getMetadata().getName().equals(name));
    if (present) {
      return;
    }
    List<HasMetadata> channel = ProgressChannel.desired(resource);
    List<HasMetadata> beforeJob = new ArrayList<>(List.of(channel.get(0)));
    beforeJob.addAll(extras(resource));
    createTogether(context, beforeJob);
    afterStep.add(
        () -> {
          createTogether(context, channel.subList(1, channel.size() - 1));
          create(context.getClient(), channel.get(channel.size() - 1));
        });
  }

  /**
   * Creates {@code objects} in parallel and returns when all exist; the first failure is thrown.
   */
  private static void createTogether(Context<?> context, List<HasMetadata> objects) {
    if (objects.size() == 1) {
      create(context.getClient(), objects.get(0));
      return;
    }
    var executor = context.getWorkflowExecutorService();
    try {
      CompletableFuture.allOf(
              objects.stream()
                  .map(
                      o ->
                          CompletableFuture.runAsync(
                              () -> create(context.getClient(), o), executor))
                  .toArray(CompletableFuture[]::new))
          .join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof RuntimeException r ? r : e;
    }
  }

  private void deleteOtherAttempts(R resource, Context<R> context, String stage, String keep) {
    for (Job other : context.getSecondaryResources(Job.class)) {
      if (stage.equals(label(other, Labels.STAGE)) && !other.getMetadata().getName().equals(keep)) {
        context
            .getClient()
            .resource(other)
            .withPropagationPolicy(io.fabric8.kubernetes.api.model.DeletionPropagation.BACKGROUND)
            .delete();
      }
    }
  }

  /** Creates {@code object} unless it exists: an operator restarted mid-reconcile adds nothing. */
  static void create(KubernetesClient client, HasMetadata object) {
    try {
      client.resource(object).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw e;
      }
    }
  }

  static String jobName(HasMetadata resource, String stage, int attempt) {
    String base = resource.getMetadata().getName() + "-" + stage;
    return attempt == 0 ? base : base + "-r" + attempt;
  }

  /** Labels of a child Job and its pods. */
  protected Map<String, String> jobLabels(R resource, String stage, int attempt) {
    Map<String, String> labels = Labels.of(resource);
    labels.put(Labels.STAGE, stage);
    labels.put(Labels.ATTEMPT, String.valueOf(attempt));
    return labels;
  }

  private static HasMetadata fetch(KubernetesClient client, InputRef ref, String namespace) {
    Class<? extends CustomResource<?, TesseraStatus>> kind =
        switch (ref.kind()) {
          case "CurationJob" -> CurationJob.class;
          case "PackJob" -> PackJob.class;
          default -> PretrainRun.class;
        };
    return client.resources(kind).inNamespace(namespace).withName(ref.name()).get();
  }

  @SuppressWarnings("unchecked")
  private static TesseraStatus statusOf(HasMetadata resource) {
    return resource == null ? null : ((CustomResource<?, TesseraStatus>) resource).getStatus();
  }

  /** The pods of attempt {@code attempt} of {@code stage}. */
  private static List<Pod> pods(Context<?> context, String stage, int attempt) {
    return context.getSecondaryResources(Pod.class).stream()
        .filter(
            p ->
                stage.equals(label(p, Labels.STAGE))
                    && String.valueOf(attempt).equals(label(p, Labels.ATTEMPT)))
        .toList();
  }

  private static String label(HasMetadata object, String key) {
    return object.getMetadata().getLabels() == null
        ? null
        : object.getMetadata().getLabels().get(key);
  }

  static String namespace(HasMetadata resource) {
    return resource.getMetadata().getNamespace();
  }

  static long generation(HasMetadata resource) {
    Long generation = resource.getMetadata().getGeneration();
    return generation == null ? 0 : generation;
  }

  static String json(Object value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static TesseraStatus copy(TesseraStatus status) {
    try {
      return JSON.readValue(JSON.writeValueAsString(status), TesseraStatus.class);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
