package dev.tessera.cli;

import dev.tessera.api.v1alpha1.CurationJob;
import dev.tessera.api.v1alpha1.DistributedSpec;
import dev.tessera.api.v1alpha1.FinetuneRun;
import dev.tessera.api.v1alpha1.InputRef;
import dev.tessera.api.v1alpha1.PackJob;
import dev.tessera.api.v1alpha1.PretrainRun;
import dev.tessera.api.v1alpha1.SpecValidation;
import dev.tessera.api.v1alpha1.TesseraStatus;
import io.fabric8.kubernetes.client.CustomResource;
import java.nio.file.Path;
import java.util.List;
import java.util.function.IntSupplier;

/**
 * One resource of a pipeline and the file it came from.
 *
 * @param file where it was read
 * @param resource the typed resource
 */
public record Stage(Path file, CustomResource<?, TesseraStatus> resource) {

  public String kind() {
    return resource.getKind();
  }

  public String name() {
    return resource.getMetadata().getName();
  }

  /** {@code Kind/name}, the stage's key in the state file. */
  public String id() {
    return kind() + "/" + name();
  }

  /**
   * Why this machine cannot run the stage's worker on GPUs it asks for, by field, or null when it
   * asks for none or the machine has some.
   *
   * @param gpus the GPUs CUDA sees here, asked only when the stage wants some
   */
  public String gpuShortfall(IntSupplier gpus) {
    String asked = null;
    String hint = "";
    if (resource.getSpec() instanceof DistributedSpec d && d.gpusPerNodeOrDefault() > 0) {
      asked =
          "spec.gpusPerNode: "
              + d.gpusPerNodeOrDefault()
              + " GPUs per node"
              + (d.gpusPerNode == null ? " (the default)" : "");
      hint = " (gpusPerNode: 0 trains on the CPU)";
    } else if (resource instanceof CurationJob c && c.getSpec().asksForGpus()) {
      asked = "spec.resources: nvidia.com/gpu for the score stage";
    }
    return asked == null || gpus.getAsInt() > 0
        ? null
        : asked + ", but CUDA sees no GPU on this machine" + hint;
  }

  /** What the stage names as its inputs, in order (a PackJob may name several). */
  public List<InputRef> inputs() {
    if (resource instanceof PackJob p) {
      return p.getSpec().inputList();
    }
    if (resource instanceof PretrainRun p) {
      return List.of(p.getSpec().input);
    }
    if (resource instanceof FinetuneRun f) {
      return List.of(f.getSpec().init);
    }
    return List.of(InputRef.path(((CurationJob) resource).getSpec().input));
  }

  /** The field naming the first input, for messages. */
  public String inputField() {
    return inputField(0);
  }

  /** The field naming input {@code index} of {@link #inputs()}, for messages. */
  public String inputField(int index) {
    String field =
        resource instanceof FinetuneRun
            ? "spec.init"
            : resource instanceof PackJob p && p.getSpec().inputs != null
                ? "spec.inputs[" + index + "]"
                : "spec.input";
    InputRef ref = inputs().get(index);
    if (resource instanceof CurationJob) {
      return field;
    }
    if (ref.curationJob != null) {
      return field + ".curationJob";
    }
    if (ref.packJob != null) {
      return field + ".packJob";
    }
    if (ref.pretrainRun != null) {
      return field + ".pretrainRun";
    }
    return field + ".path";
  }

  /** Where the stage writes, relative to the volume. */
  public String outputDir() {
    if (resource instanceof CurationJob c) {
      return c.getSpec().output.path;
    }
    if (resource instanceof PackJob p) {
      return p.getSpec().output;
    }
    if (resource instanceof PretrainRun p) {
      return p.getSpec().output;
    }
    return ((FinetuneRun) resource).getSpec().output;
  }

  /** What the next stage reads: a curation's kept shards, otherwise the output directory. */
  public String outputForNext() {
    return resource instanceof CurationJob ? outputDir() + "/shards" : outputDir();
  }

  /** The CRDs' rules, checked as the API server would. */
  public List<String> problems() {
    return SpecValidation.problemsOf(resource);
  }

  /** {@code FILE: Kind name:} to start a message with. */
  public String where() {
    return file + ": " + kind() + " " + name();
  }
}
