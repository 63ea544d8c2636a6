package dev.tessera.api.v1alpha1;

import java.util.ArrayList;
import java.util.List;

/**
 * The checks of the CRDs' CEL rules, required fields and bounds ({@link SchemaValidation}), in
 * Java: for the operator (a resource that reached it without an API server's validation is refused
 * with reason {@code InvalidSpec}, never crash-looped) and for the local runner, which has no API
 * server. The messages are the CEL rules' messages, so a user sees the same words from {@code
 * kubectl apply} and from {@code tessera run}; {@code SpecValidationTest} holds the two together.
 */
public final class SpecValidation {
  private SpecValidation() {}

  /** Longest resource name: child Jobs add a stage and an attempt, pods an index. */
  public static final int MAX_NAME_LENGTH = 40;

  private static final java.util.regex.Pattern PARENT_SEGMENT =
      java.util.regex.Pattern.compile("(^|/)\\.\\.(/|$)");

  /** The problems of any Tessera resource. */
  public static List<String> problemsOf(io.fabric8.kubernetes.api.model.HasMetadata resource) {
    if (resource instanceof CurationJob c) {
      return problems(c);
    }
    if (resource instanceof PackJob p) {
      return problems(p);
    }
    if (resource instanceof PretrainRun r) {
      return problems(r);
    }
    if (resource instanceof FinetuneRun f) {
      return problems(f);
    }
    throw new IllegalArgumentException("not a Tessera resource: " + resource.getKind());
  }

  public static List<String> problems(CurationJob job) {
    List<String> problems = common(job.getMetadata().getName(), job.getSpec());
    CurationJobSpec spec = job.getSpec();
    if (spec == null) {
      return problems;
    }
    require(problems, spec.input, "spec.input");
    if (spec.input != null && !insideVolume(spec.input)) {
      problems.add("input must be a path inside the storage volume (relative, no '..' segment)");
    }
    if (spec.output == null || spec.output.path == null) {
      problems.add("spec.output.path is required");
    } else if (!insideVolume(spec.output.path)) {
      problems.add(
          "output.path must be a path inside the storage volume (relative, no '..' segment)");
    }
    if (spec.filters != null && spec.filters.clipScore != null) {
      CurationJobSpec.ClipScore clip = spec.filters.clipScore;
      require(problems, clip.model, "spec.filters.clipScore.model");
    }
    if (spec.filters != null && spec.filters.mlmFilter != null) {
      CurationJobSpec.MlmFilter mlm = spec.filters.mlmFilter;
      require(problems, mlm.model, "spec.filters.mlmFilter.model");
      require(problems, mlm.tokenizer, "spec.filters.mlmFilter.tokenizer");
      if (mlm.template != null && mlm.templateFile != null) {
        problems.add("mlmFilter takes template or templateFile, not both");
      }
    }
    if (spec.filters != null && spec.filters.uidLists != null) {
      for (int i = 0; i < spec.filters.uidLists.size(); i++) {
        require(
            problems, spec.filters.uidLists.get(i).path, "spec.filters.uidLists[" + i + "].path");
      }
    }
    if (spec.select != null) {
      rule(problems, spec.select, spec.select.all, spec.select.any);
      for (List<SelectTerm> group : groups(spec.select.all, spec.select.any)) {
        for (SelectTerm term : group) {
          rule(problems, term, term.all, term.any);
          for (List<SelectLeaf> leaves : groups(term.all, term.any)) {
            for (SelectLeaf leaf : leaves) {
              if ((leaf.score != null) == (leaf.flag != null)) {
                problems.add("a selection test needs exactly one of score and flag");
              }
              threshold(problems, leaf);
            }
          }
        }
      }
    }
    if (spec.parallelism != null && (spec.parallelism < 1 || spec.parallelism > 1000)) {
      problems.add("spec.parallelism must be in 1..1000");
    }
    return problems;
  }

  public static List<String> problems(PackJob job) {
    List<String> problems = common(job.getMetadata().getName(), job.getSpec());
    PackJobSpec spec = job.getSpec();
    if (spec == null) {
      return problems;
    }
    if ((spec.input != null) == (spec.inputs != null)) {
      problems.add("a PackJob takes exactly one of input and inputs");
    }
    if (spec.inputs != null
        && (spec.inputs.isEmpty() || spec.inputs.size() > PackJobSpec.MAX_INPUTS)) {
      problems.add("spec.inputs must name 1 to " + PackJobSpec.MAX_INPUTS + " inputs");
    }
    boolean otherKind = false;
    java.util.Set<String> named = new java.util.HashSet<>();
    for (InputRef ref : spec.inputList()) {
      input(problems, ref);
      otherKind |= ref != null && (ref.packJob != null || ref.pretrainRun != null);
      String what =
          ref == null ? null : ref.kind() != null ? ref.kind() + " " + ref.name() : ref.path;
      if (what != null && !named.add(what)) {
        // Its shards would be packed twice.
        problems.add(
            "spec.inputs names "
                + what
                + " twice (a repeat packs an input more than once: repeat: 2)");
      }
    }
    if (otherKind) {
      problems.add("a PackJob's input is a curationJob or a path");
    }
    require(problems, spec.output, "spec.output");
    if (spec.output != null && !insideVolume(spec.output)) {
      problems.add("output must be a path inside the storage volume (relative, no '..' segment)");
    }
    require(problems, spec.tokenizer, "spec.tokenizer");
    if (spec.imageTokens != null) {
      int side = (int) Math.round(Math.sqrt(spec.imageTokens));
      if (side * side != spec.imageTokens) {
        problems.add("spec.imageTokens must be a square k x k (144, 729, ...)");
      }
    }
    return problems;
  }

  public static List<String> problems(PretrainRun run) {
    List<String> problems = common(run.getMetadata().getName(), run.getSpec());
    PretrainRunSpec spec = run.getSpec();
    if (spec == null) {
      return problems;
    }
    input(problems, spec.input);
    if (spec.input != null && spec.input.packJob == null && spec.input.path == null) {
      problems.add("a PretrainRun's input is a packJob or a path");
    }
    distributed(problems, spec);
    if (spec.training != null) {
      if ((spec.training.steps != null) == (spec.training.tokens != null)) {
        problems.add("training needs exactly one of steps and tokens");
      }
      if (spec.training.epochs != null) {
        problems.add("training.epochs is for FinetuneRun; use steps or tokens");
      }
    }
    return problems;
  }

  public static List<String> problems(FinetuneRun run) {
    List<String> problems = common(run.getMetadata().getName(), run.getSpec());
    FinetuneRunSpec spec = run.getSpec();
    if (spec == null) {
      return problems;
    }
    require(problems, spec.conversations, "spec.conversations");
    require(problems, spec.tokenizer, "spec.tokenizer");
    input(problems, spec.init);
    if (spec.init != null && spec.init.pretrainRun == null && spec.init.path == null) {
      problems.add("a FinetuneRun starts from a pretrainRun or a checkpoint path");
    }
    distributed(problems, spec);
    if (spec.training != null) {
      if ((spec.training.steps != null) == (spec.training.epochs != null)) {
        problems.add("training needs exactly one of steps and epochs");
      }
      if (spec.training.tokens != null) {
        problems.add("training.tokens is for PretrainRun; use steps or epochs");
      }
    }
    return problems;
  }

  private static List<String> common(String name, WorkloadSpec spec) {
    List<String> problems = new ArrayList<>();
    if (spec == null) {
      problems.add("spec is required");
      return problems;
    }
    if (name != null && name.length() > MAX_NAME_LENGTH) {
      problems.add(
          "metadata.name must be at most "
              + MAX_NAME_LENGTH
              + " characters (child Jobs and pods add to it), got "
              + name.length());
    }
    // The OpenAPI bounds (minimum, maximum, pattern) that the API server checks before any rule.
    problems.addAll(SchemaValidation.problems(spec, "spec"));
    return problems;
  }

  private static void distributed(List<String> problems, DistributedSpec spec) {
    require(problems, spec.output, "spec.output");
    if (spec.checkpoints != null
        && Boolean.TRUE.equals(spec.checkpoints.keepBest)
        && spec.evaluation == null) {
      problems.add(
          "checkpoints.keepBest needs evaluation: the best checkpoint has the lowest held-out"
              + " loss");
    }
    if (spec.output != null && !insideVolume(spec.output)) {
      problems.add("output must be a path inside the storage volume (relative, no '..' segment)");
    }
    if (spec.training == null) {
      problems.add("spec.training is required");
    } else if (spec.training.globalBatch != null) {
      // Every rank takes the same share of a step, in whole micro-batches (the trainer's default
      // micro-batch is checked by the trainer itself).
      int micro = spec.training.microBatch == null ? 1 : spec.training.microBatch;
      long perStep = (long) spec.worldSize() * micro;
      if (spec.training.globalBatch % perStep != 0) {
        problems.add(
            "training.globalBatch ("
                + spec.training.globalBatch
                + ") must be a multiple of the ranks ("
                + spec.nodesOrDefault()
                + " nodes x "
                + Math.max(1, spec.gpusPerNodeOrDefault())
                + ")"
                + (spec.training.microBatch == null
                    ? ""
                    : " x training.microBatch (" + spec.training.microBatch + ")"));
      }
    }
  }

  private static void input(List<String> problems, InputRef input) {
    if (input == null) {
      problems.add("spec.input is required");
      return;
    }
    int named = 0;
    for (String s :
        new String[] {input.curationJob, input.packJob, input.pretrainRun, input.path}) {
      named += s == null ? 0 : 1;
    }
    if (named != 1) {
      problems.add("an input names exactly one of curationJob, packJob, pretrainRun and path");
    }
    if (input.path != null && !insideVolume(input.path)) {
      problems.add(
          "input.path must be a path inside the storage volume (relative, no '..' segment)");
    }
  }

  private static void rule(List<String> problems, SelectLeaf leaf, List<?> all, List<?> any) {
    int tests = 0;
    for (Object o : new Object[] {leaf.score, leaf.flag, all, any}) {
      tests += o == null ? 0 : 1;
    }
    if (tests != 1) {
      problems.add("a selection rule needs exactly one of score, flag, all and any");
    }
    threshold(problems, leaf);
  }

  private static void threshold(List<String> problems, SelectLeaf leaf) {
    if (leaf.score == null) {
      return;
    }
    int thresholds = 0;
    for (Double d : new Double[] {leaf.atLeast, leaf.atMost, leaf.topFraction}) {
      thresholds += d == null ? 0 : 1;
    }
    if (thresholds != 1) {
      problems.add("a score test needs exactly one of atLeast, atMost and topFraction");
    }
  }

  private static <T> List<List<T>> groups(List<T> all, List<T> any) {
    List<List<T>> groups = new ArrayList<>();
    if (all != null) {
      groups.add(all);
    }
    if (any != null) {
      groups.add(any);
    }
    return groups;
  }

  private static void require(List<String> problems, Object value, String field) {
    if (value == null) {
      problems.add(field + " is required");
    }
  }

  private static boolean insideVolume(String path) {
    return !path.startsWith("/") && !PARENT_SEGMENT.matcher(path).find();
  }
}
