package dev.tessera.operator;

import dev.tessera.api.v1alpha1.FinetuneRun;
import dev.tessera.api.v1alpha1.FinetuneRunSpec;
import dev.tessera.api.v1alpha1.InputRef;
import dev.tessera.api.v1alpha1.SpecValidation;
import dev.tessera.api.v1alpha1.WorkerFlags;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import jakarta.inject.Singleton;
import java.util.ArrayList;
import java.util.List;

/** FinetuneRun: {@code tessera-trainer finetune} from a PretrainRun's newest checkpoint. */
@ControllerConfiguration(name = "finetunerun")
@Singleton
public class FinetuneRunReconciler extends TrainingReconciler<FinetuneRunSpec, FinetuneRun> {
  public FinetuneRunReconciler(OperatorConfig config, TesseraMetrics metrics) {
    super(FinetuneRun.class, config, metrics);
  }

  @Override
  protected List<String> validate(FinetuneRun resource) {
    return SpecValidation.problems(resource);
  }

  @Override
  protected List<InputRef> inputs(FinetuneRun resource) {
    return List.of(resource.getSpec().init);
  }

  @Override
  protected List<String> command(FinetuneRun resource, String init) {
    FinetuneRunSpec spec = resource.getSpec();
    List<String> args =
        new ArrayList<>(
            List.of(
                "finetune",
                "--data",
                spec.conversations,
                "--init",
                init,
                "--tokenizer",
                spec.tokenizer));
    WorkerFlags.option(args, "--init-checkpoint", spec.initCheckpoint);
    WorkerFlags.option(args, "--image-folder", spec.imageFolder);
    WorkerFlags.option(args, "--image-tokens", spec.imageTokens);
    WorkerFlags.option(args, "--max-length", spec.maxLength);
    return args;
  }
}
