package dev.tessera.operator;

import dev.tessera.api.v1alpha1.InputRef;
import dev.tessera.api.v1alpha1.PretrainRun;
import dev.tessera.api.v1alpha1.PretrainRunSpec;
import dev.tessera.api.v1alpha1.SpecValidation;
import dev.tessera.api.v1alpha1.WorkerFlags;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import jakarta.inject.Singleton;
import java.util.ArrayList;
import java.util.List;

/** PretrainRun: {@code tessera-trainer pretrain} on a PackJob's sequences. */
@ControllerConfiguration(name = "pretrainrun")
@Singleton
public class PretrainRunReconciler extends TrainingReconciler<PretrainRunSpec, PretrainRun> {
  public PretrainRunReconciler(OperatorConfig config, TesseraMetrics metrics) {
    super(PretrainRun.class, config, metrics);
  }

  @Override
  protected List<String> validate(PretrainRun resource) {
    return SpecValidation.problems(resource);
  }

  @Override
  protected List<InputRef> inputs(PretrainRun resource) {
    return List.of(resource.getSpec().input);
  }

  @Override
  protected List<String> command(PretrainRun resource, String input) {
    PretrainRunSpec spec = resource.getSpec();
    List<String> args = new ArrayList<>(List.of("pretrain", "--data", input));
    if (spec.model != null) {
      WorkerFlags.option(args, "--model-config", spec.model.config);
      WorkerFlags.option(args, "--init-llm", spec.model.llm);
      WorkerFlags.option(args, "--init-vision", spec.model.vision);
    }
    return args;
  }
}
