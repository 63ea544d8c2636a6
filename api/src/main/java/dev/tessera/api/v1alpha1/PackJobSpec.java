package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.ArrayList;
import java.util.List;

/** {@code PackJob.spec}: the packer's options (docs/packing.md). */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "has(self.input) != has(self.inputs)",
    message = "a PackJob takes exactly one of input and inputs")
@ValidationRule(
    value =
        "(!has(self.input) || (!has(self.input.packJob) && !has(self.input.pretrainRun)))"
            + " && (!has(self.inputs) || self.inputs.all(i, !has(i.packJob) &&"
            + " !has(i.pretrainRun)))",
    message = "a PackJob's input is a curationJob or a path")
public class PackJobSpec extends WorkloadSpec {
  /** Most sets one PackJob packs together. */
  public static final int MAX_INPUTS = 64;

  @JsonPropertyDescription("The samples: a CurationJob's output, or shards on the volume.")
  public InputRef input;

  @JsonPropertyDescription(
      "Several sets packed together instead of one input, their shards in this order:"
          + " CurationJobs (the PackJob waits until all have succeeded) or shards on the volume,"
          + " each with an optional repeat that sets its share of the mixture.")
  @Size(min = 1, max = MAX_INPUTS)
  public List<PackInput> inputs;

  /** The input, or the inputs, in order. */
  public List<InputRef> inputList() {
    if (input != null) {
      return List.of(input);
    }
    return inputs == null ? List.of() : List.copyOf(inputs);
  }

  /**
   * The packer's {@code --input} flags for the inputs' paths (as {@link #inputList()} orders them),
   * each followed by its {@code --repeat} when the spec sets one.
   */
  public List<String> packerInputs(List<String> paths) {
    List<InputRef> refs = inputList();
    if (paths.size() != refs.size()) {
      throw new IllegalArgumentException(paths.size() + " paths for " + refs.size() + " inputs");
    }
    List<String> args = new ArrayList<>();
    for (int i = 0; i < paths.size(); i++) {
      args.add("--input");
      args.add(paths.get(i));
      if (refs.get(i) instanceof PackInput each && each.repeat != null) {
        args.add("--repeat");
        args.add(String.valueOf(each.repeat));
      }
    }
    return args;
  }

  @JsonPropertyDescription("Output directory for the packed shards, relative to the volume.")
  @Required
  @ValidationRule(
      value = "!self.startsWith('/') && !self.matches('(^|/)\\\\.\\\\.(/|$)')",
      message = "output must be a path inside the storage volume (relative, no '..' segment)")
  public String output;

  @JsonPropertyDescription("The tokenizer.json (Qwen2.5), relative to the volume.")
  @Required
  public String tokenizer;

  @JsonPropertyDescription("Tokens per packed sequence (default 4096).")
  @Min(64)
  @Max(131072)
  public Integer seqLength;

  @JsonPropertyDescription("Image tokens per image, a square k x k (default 144 = 12 x 12).")
  @Min(1)
  @Max(4096)
  public Integer imageTokens;

  @JsonPropertyDescription(
      "Side of the square images stored for the vision tower (default 384, SigLIP-SO400M's).")
  @Min(16)
  @Max(4096)
  public Integer imageSize;

  @JsonPropertyDescription(
      "ffd (first-fit decreasing, default), bfd (best-fit decreasing) or fill.")
  @Pattern("^(ffd|bfd|fill)$")
  public String algorithm;

  @JsonPropertyDescription("Samples longer than a sequence: truncate or drop (default truncate).")
  @Pattern("^(truncate|drop)$")
  public String overlong;

  @JsonPropertyDescription("Threads tokenizing and re-encoding images (default: the pod's CPUs).")
  @Min(1)
  @Max(256)
  public Integer parallelism;

  /** The packer's flags for the sizes and modes this spec sets. */
  public List<String> packerOptions() {
    List<String> args = new ArrayList<>();
    WorkerFlags.option(args, "--seq-len", seqLength);
    WorkerFlags.option(args, "--image-tokens", imageTokens);
    WorkerFlags.option(args, "--image-size", imageSize);
    WorkerFlags.option(args, "--algorithm", algorithm);
    WorkerFlags.option(args, "--overlong", overlong);
    WorkerFlags.option(args, "--workers", parallelism);
    return args;
  }
}
