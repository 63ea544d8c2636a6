package dev.tessera.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.tessera.api.v1alpha1.CheckpointSpec;
import dev.tessera.api.v1alpha1.CurationJob;
import dev.tessera.api.v1alpha1.CurationJobSpec;
import dev.tessera.api.v1alpha1.FinetuneRun;
import dev.tessera.api.v1alpha1.FinetuneRunSpec;
import dev.tessera.api.v1alpha1.InputRef;
import dev.tessera.api.v1alpha1.PackInput;
import dev.tessera.api.v1alpha1.PackJob;
import dev.tessera.api.v1alpha1.PackJobSpec;
import dev.tessera.api.v1alpha1.PretrainRun;
import dev.tessera.api.v1alpha1.PretrainRunSpec;
import dev.tessera.api.v1alpha1.SelectLeaf;
import dev.tessera.api.v1alpha1.SelectRule;
import dev.tessera.api.v1alpha1.SelectTerm;
import dev.tessera.api.v1alpha1.SpecValidation;
import dev.tessera.api.v1alpha1.TrainingSpec;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every CEL rule of the CRDs has a twin in {@link SpecValidation} that gives the same message, so
 * the operator (behind a server that did not check) and the local runner (no server at all) refuse
 * what {@code kubectl apply} refuses, in the same words.
 */
class SpecValidationTest {

  /** For each CEL message: a resource that breaks exactly that rule. */
  static Map<String, Supplier<List<String>>> breakers() {
    Map<String, Supplier<List<String>>> b = new LinkedHashMap<>();
    b.put(
        "input must be a path inside the storage volume (relative, no '..' segment)",
        () -> {
          CurationJob c = curation();
          c.getSpec().input = "../raw/{0..3}.tar";
          return SpecValidation.problems(c);
        });
    b.put(
        "output.path must be a path inside the storage volume (relative, no '..' segment)",
        () -> {
          CurationJob c = curation();
          c.getSpec().output.path = "/abs";
          return SpecValidation.problems(c);
        });
    b.put(
        "mlmFilter takes template or templateFile, not both",
        () -> {
          CurationJob c = curation();
          c.getSpec().filters = new CurationJobSpec.Filters();
          c.getSpec().filters.mlmFilter = new CurationJobSpec.MlmFilter();
          c.getSpec().filters.mlmFilter.model = "m";
          c.getSpec().filters.mlmFilter.tokenizer = "t";
          c.getSpec().filters.mlmFilter.template = "{caption}";
          c.getSpec().filters.mlmFilter.templateFile = "su.txt";
          return SpecValidation.problems(c);
        });
    b.put(
        "a selection rule needs exactly one of score, flag, all and any",
        () -> {
          CurationJob c = curation();
          c.getSpec().select = new SelectRule();
          c.getSpec().select.flag = "dfn";
          c.getSpec().select.any = List.of(term("dfn"));
          return SpecValidation.problems(c);
        });
    b.put(
        "a selection test needs exactly one of score and flag",
        () -> {
          CurationJob c = curation();
          SelectLeaf empty = new SelectLeaf();
          SelectTerm group = new SelectTerm();
          group.all = List.of(empty);
          c.getSpec().select = new SelectRule();
          c.getSpec().select.any = List.of(group);
          return SpecValidation.problems(c);
        });
    b.put(
        "a score test needs exactly one of atLeast, atMost and topFraction",
        () -> {
          CurationJob c = curation();
          c.getSpec().select = new SelectRule();
          c.getSpec().select.score = "su";
          return SpecValidation.problems(c);
        });
    b.put(
        "an input names exactly one of curationJob, packJob, pretrainRun and path",
        () -> {
          PackJob p = pack();
          p.getSpec().input.curationJob = "c";
          return SpecValidation.problems(p);
        });
    b.put(
        "input.path must be a path inside the storage volume (relative, no '..' segment)",
        () -> {
          PackJob p = pack();
          p.getSpec().input.path = "raw/../../etc";
          return SpecValidation.problems(p);
        });
    b.put(
        "checkpoints.keepBest needs evaluation: the best checkpoint has the lowest held-out loss",
        () -> {
          PretrainRun r = pretrain();
          r.getSpec().checkpoints = new CheckpointSpec();
          r.getSpec().checkpoints.keepBest = true;
          r.getSpec().evaluation = null;
          return SpecValidation.problems(r);
        });
    b.put(
        "output must be a path inside the storage volume (relative, no '..' segment)",
        () -> {
          PackJob p = pack();
          p.getSpec().output = "/packed";
          return SpecValidation.problems(p);
        });
    b.put(
        "a PackJob's input is a curationJob or a path",
        () -> {
          PackJob p = pack();
          p.getSpec().input = new InputRef();
          p.getSpec().input.packJob = "other";
          return SpecValidation.problems(p);
        });
    b.put(
        "a PackJob takes exactly one of input and inputs",
        () -> {
          PackJob p = pack();
          p.getSpec().inputs = List.of(PackInput.of(InputRef.path("more/shards"), null));
          return SpecValidation.problems(p);
        });
    b.put(
        "a PretrainRun's input is a packJob or a path",
        () -> {
          PretrainRun r = pretrain();
          r.getSpec().input = new InputRef();
          r.getSpec().input.curationJob = "c";
          return SpecValidation.problems(r);
        });
    b.put(
        "training needs exactly one of steps and tokens",
        () -> {
          PretrainRun r = pretrain();
          r.getSpec().training.tokens = 5L;
          return SpecValidation.problems(r);
        });
    b.put(
        "training.epochs is for FinetuneRun; use steps or tokens",
        () -> {
          PretrainRun r = pretrain();
          r.getSpec().training.epochs = 1.0;
          return SpecValidation.problems(r);
        });
    b.put(
        "a FinetuneRun starts from a pretrainRun or a checkpoint path",
        () -> {
          FinetuneRun f = finetune();
          f.getSpec().init = new InputRef();
          f.getSpec().init.packJob = "p";
          return SpecValidation.problems(f);
        });
    b.put(
        "training needs exactly one of steps and epochs",
        () -> {
          FinetuneRun f = finetune();
          f.getSpec().training.epochs = null;
          return SpecValidation.problems(f);
        });
    b.put(
        "training.tokens is for PretrainRun; use steps or epochs",
        () -> {
          FinetuneRun f = finetune();
          f.getSpec().training.tokens = 1L;
          return SpecValidation.problems(f);
        });
    return b;
  }

  @Test
  void everyCelRuleHasAJavaTwinWithItsMessage() throws IOException {
    TreeSet<String> celMessages = new TreeSet<>();
    try (Stream<Path> files = Files.list(Path.of("target/classes/META-INF/fabric8"))) {
      for (Path file : files.toList()) {
        collect(new YAMLMapper().readTree(file.toFile()), celMessages);
      }
    }
    assertThat(celMessages).isNotEmpty();
    Map<String, Supplier<List<String>>> breakers = breakers();
    assertThat(breakers.keySet()).containsAll(celMessages);
    breakers.forEach((message, breaker) -> assertThat(breaker.get()).as(message).contains(message));
  }

  @Test
  void theValidBaselinesPass() {
    assertThat(SpecValidation.problems(curation())).isEmpty();
    assertThat(SpecValidation.problems(pack())).isEmpty();
    assertThat(SpecValidation.problems(pretrain())).isEmpty();
    assertThat(SpecValidation.problems(finetune())).isEmpty();
  }

  @Test
  void aPackJobPacksSeveralInputsTogether() {
    PackJob p = pack();
    PackInput ccs = new PackInput();
    ccs.curationJob = "curate-ccs";
    PackInput datacomp = PackInput.of(InputRef.path("datacomp/shards"), null);
    p.getSpec().input = null;
    p.getSpec().inputs = List.of(ccs, datacomp);
    assertThat(SpecValidation.problems(p)).isEmpty();
    assertThat(p.getSpec().inputList()).containsExactly(ccs, datacomp);

    PackInput run = new PackInput();
    run.pretrainRun = "r";
    p.getSpec().inputs = List.of(ccs, run);
    assertThat(SpecValidation.problems(p))
        .containsExactly("a PackJob's input is a curationJob or a path");
    p.getSpec().inputs = List.of(ccs, datacomp, ccs);
    assertThat(SpecValidation.problems(p))
        .containsExactly(
            "spec.inputs names CurationJob curate-ccs twice (a repeat packs an input more than"
                + " once: repeat: 2)");
    p.getSpec().inputs = List.of();
    assertThat(SpecValidation.problems(p)).containsExactly("spec.inputs must name 1 to 64 inputs");
    p.getSpec().inputs = null;
    assertThat(SpecValidation.problems(p))
        .containsExactly("a PackJob takes exactly one of input and inputs");
  }

  @Test
  void aPackJobsInputsRepeatWithinTheirRange() {
    PackJob p = pack();
    p.getSpec().input = null;
    PackInput ccs = PackInput.of(InputRef.path("ccs/shards"), 2.5);
    PackInput datacomp = PackInput.of(InputRef.path("datacomp/shards"), 0.25);
    p.getSpec().inputs = List.of(ccs, datacomp);
    assertThat(SpecValidation.problems(p)).isEmpty();
    assertThat(p.getSpec().packerInputs(List.of("/v/ccs", "/v/dc")))
        .containsExactly(
            "--input", "/v/ccs", "--repeat", "2.5", "--input", "/v/dc", "--repeat", "0.25");
    datacomp.repeat = null;
    assertThat(p.getSpec().packerInputs(List.of("/v/ccs", "/v/dc")))
        .containsExactly("--input", "/v/ccs", "--repeat", "2.5", "--input", "/v/dc");

    datacomp.repeat = 0.0;
    assertThat(SpecValidation.problems(p))
        .containsExactly("spec.inputs[1].repeat must be > 0, got 0.0");
    datacomp.repeat = 100.5;
    assertThat(SpecValidation.problems(p))
        .containsExactly("spec.inputs[1].repeat must be <= 100, got 100.5");
  }

  @Test
  void braceRangesAreNotParentSegments() {
    CurationJob c = curation();
    c.getSpec().input = "raw/{00000..01302}.tar";
    assertThat(SpecValidation.problems(c)).isEmpty();
  }

  @Test
  void namesThatLeaveNoRoomForChildNamesAreRefused() {
    PackJob p = pack();
    p.getMetadata().setName("a".repeat(41));
    assertThat(SpecValidation.problems(p))
        .singleElement()
        .asString()
        .contains("at most 40 characters");
  }

  @Test
  void severalMultiGpuNodesAreAValidRun() {
    PretrainRun r = pretrain();
    r.getSpec().nodes = 2;
    r.getSpec().gpusPerNode = 8;
    assertThat(SpecValidation.problems(r)).isEmpty();
    assertThat(r.getSpec().worldSize()).isEqualTo(16);
  }

  @Test
  void theGlobalBatchMustSplitEvenlyOverTheRanks() {
    PretrainRun r = pretrain();
    r.getSpec().nodes = 2;
    r.getSpec().gpusPerNode = 8;
    r.getSpec().training.globalBatch = 48;
    r.getSpec().training.microBatch = 2;
    assertThat(SpecValidation.problems(r))
        .singleElement()
        .asString()
        .contains("training.globalBatch (48) must be a multiple of the ranks (2 nodes x 8)")
        .contains("x training.microBatch (2)");
    r.getSpec().training.globalBatch = 64;
    assertThat(SpecValidation.problems(r)).isEmpty();
    r.getSpec().training.microBatch = null;
    r.getSpec().training.globalBatch = 24;
    assertThat(SpecValidation.problems(r)).singleElement().asString().contains("(2 nodes x 8)");
  }

  @Test
  void theSchemasBoundsAreCheckedAsTheApiServerChecksThem() {
    PackJob p = pack();
    p.getSpec().seqLength = -5;
    p.getSpec().imageSize = 8192;
    p.getSpec().algorithm = "worst-fit";
    p.getSpec().input = new InputRef();
    p.getSpec().input.curationJob = "Curate_1";
    p.getSpec().backoffLimit = -1;
    assertThat(SpecValidation.problems(p))
        .containsExactlyInAnyOrder(
            "spec.seqLength must be >= 64, got -5",
            "spec.imageSize must be <= 4096, got 8192",
            "spec.algorithm must match ^(ffd|bfd|fill)$, got 'worst-fit'",
            "spec.input.curationJob must match ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$, got 'Curate_1'",
            "spec.backoffLimit must be >= 0, got -1");

    // Inside lists: a selection's leaves.
    CurationJob c = curation();
    c.getSpec().select = new SelectRule();
    c.getSpec().select.all = List.of(new SelectTerm());
    SelectLeaf leaf = new SelectLeaf();
    leaf.score = "clip";
    leaf.topFraction = 1.5;
    c.getSpec().select.all.get(0).any = List.of(leaf);
    assertThat(SpecValidation.problems(c))
        .contains("spec.select.all[0].any[0].topFraction must be <= 1, got 1.5");

    // The bounds themselves pass.
    PackJob edge = pack();
    edge.getSpec().seqLength = 64;
    edge.getSpec().imageSize = 4096;
    assertThat(SpecValidation.problems(edge)).isEmpty();
  }

  @Test
  void imageTokensMustBeASquare() {
    PackJob p = pack();
    p.getSpec().imageTokens = 150;
    assertThat(SpecValidation.problems(p)).singleElement().asString().contains("square");
  }

  private static void collect(JsonNode node, TreeSet<String> messages) {
    if (node.isObject()) {
      for (JsonNode rule : node.path("x-kubernetes-validations")) {
        messages.add(rule.path("message").asText());
      }
      node.elements().forEachRemaining(child -> collect(child, messages));
    } else if (node.isArray()) {
      node.elements().forEachRemaining(child -> collect(child, messages));
    }
  }

  static CurationJob curation() {
    CurationJob c = new CurationJob();
    c.setMetadata(new ObjectMetaBuilder().withName("c").build());
    c.setSpec(new CurationJobSpec());
    c.getSpec().input = "raw/{00000..00003}.tar";
    c.getSpec().output = new CurationJobSpec.Output();
    c.getSpec().output.path = "curated";
    return c;
  }

  static SelectTerm term(String flag) {
    SelectTerm t = new SelectTerm();
    t.flag = flag;
    return t;
  }

  static PackJob pack() {
    PackJob p = new PackJob();
    p.setMetadata(new ObjectMetaBuilder().withName("p").build());
    p.setSpec(new PackJobSpec());
    p.getSpec().input = InputRef.path("curated/shards");
    p.getSpec().output = "packed";
    p.getSpec().tokenizer = "tokenizer.json";
    return p;
  }

  static PretrainRun pretrain() {
    PretrainRun r = new PretrainRun();
    r.setMetadata(new ObjectMetaBuilder().withName("r").build());
    r.setSpec(new PretrainRunSpec());
    r.getSpec().input = new InputRef();
    r.getSpec().input.packJob = "p";
    r.getSpec().output = "runs/r";
    r.getSpec().training = new TrainingSpec();
    r.getSpec().training.steps = 10L;
    return r;
  }

  static FinetuneRun finetune() {
    FinetuneRun f = new FinetuneRun();
    f.setMetadata(new ObjectMetaBuilder().withName("f").build());
    f.setSpec(new FinetuneRunSpec());
    f.getSpec().init = new InputRef();
    f.getSpec().init.pretrainRun = "r";
    f.getSpec().conversations = "sft.json";
    f.getSpec().tokenizer = "tokenizer.json";
    f.getSpec().output = "runs/f";
    f.getSpec().training = new TrainingSpec();
    f.getSpec().training.epochs = 1.0;
    return f;
  }

  @Test
  void aClipScoreNeedsItsModelAndFindsItsTokenizerThere() {
    CurationJob c = curation();
    c.getSpec().filters = new CurationJobSpec.Filters();
    c.getSpec().filters.clipScore = new CurationJobSpec.ClipScore();
    assertThat(SpecValidation.problems(c))
        .containsExactly("spec.filters.clipScore.model is required");
    c.getSpec().filters.clipScore.model = "models/siglip";
    assertThat(SpecValidation.problems(c)).isEmpty();
    c.getSpec().filters.clipScore.tokenizer = "models/siglip/spiece.model";
    assertThat(SpecValidation.problems(c)).isEmpty();
  }
}
