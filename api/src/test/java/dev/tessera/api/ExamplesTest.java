package dev.tessera.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.tessera.api.v1alpha1.CurationJob;
import dev.tessera.api.v1alpha1.FinetuneRun;
import dev.tessera.api.v1alpha1.InputRef;
import dev.tessera.api.v1alpha1.PackJob;
import dev.tessera.api.v1alpha1.PretrainRun;
import dev.tessera.api.v1alpha1.SpecValidation;
import io.fabric8.kubernetes.client.CustomResource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The example pipelines under {@code examples/} are valid resources: every field is one the types
 * know (a typo fails), the specs pass the CRDs' rules, and every resource named as an input is part
 * of the same pipeline.
 */
class ExamplesTest {
  private static final ObjectMapper STRICT = JsonMapper.builder().build();

  static List<CustomResource<?, ?>> load(Path dir) throws IOException {
    List<CustomResource<?, ?>> resources = new ArrayList<>();
    List<Path> files;
    try (Stream<Path> walk = Files.walk(dir)) {
      files = walk.filter(f -> f.toString().endsWith(".yaml")).sorted().toList();
    }
    YAMLMapper yaml = new YAMLMapper();
    for (Path file : files) {
      try (var parser = new YAMLFactory().createParser(file.toFile())) {
        for (JsonNode doc : yaml.readValues(parser, JsonNode.class).readAll()) {
          String apiVersion = doc.path("apiVersion").asText();
          if (!apiVersion.startsWith("tessera.dev/")) {
            continue;
          }
          Class<? extends CustomResource<?, ?>> type =
              switch (doc.path("kind").asText()) {
                case "CurationJob" -> CurationJob.class;
                case "PackJob" -> PackJob.class;
                case "PretrainRun" -> PretrainRun.class;
                case "FinetuneRun" -> FinetuneRun.class;
                default -> throw new AssertionError(file + ": unknown kind " + doc.path("kind"));
              };
          resources.add(STRICT.treeToValue(doc, type));
        }
      }
    }
    return resources;
  }

  static List<String> problems(CustomResource<?, ?> resource) {
    return SpecValidation.problemsOf(resource);
  }

  @Test
  void theOpenQwen2vlReproductionIsValidAndChained() throws IOException {
    List<CustomResource<?, ?>> resources = load(Path.of("../examples/open-qwen2vl"));
    assertThat(resources)
        .extracting(r -> r.getKind())
        .containsExactly("CurationJob", "CurationJob", "PackJob", "PretrainRun", "FinetuneRun");
    assertValidAndChained(resources);
    PretrainRun pretrain = (PretrainRun) resources.get(3);
    assertThat(pretrain.getSpec().training.tokens).isEqualTo(5_000_000_000L);
    assertThat(pretrain.getSpec().worldSize()).isEqualTo(8);
    PackJob pack = (PackJob) resources.get(2);
    assertThat(pack.getSpec().seqLength).isEqualTo(4096);
    assertThat(pack.getSpec().imageTokens).isEqualTo(144);
    CurationJob datacomp = (CurationJob) resources.get(0);
    assertThat(datacomp.getSpec().select.any).hasSize(2);
    assertThat(datacomp.getSpec().select.any.get(0).atLeast).isEqualTo(85.0);
  }

  @Test
  void theTestClusterPipelineIsValidAndChained() throws IOException {
    List<CustomResource<?, ?>> resources = load(Path.of("../examples/test-cluster"));
    assertThat(resources)
        .extracting(r -> r.getKind())
        .containsExactly("CurationJob", "PackJob", "PretrainRun");
    assertValidAndChained(resources);
  }

  @Test
  void theQuickstartIsValidAndChained() throws IOException {
    List<CustomResource<?, ?>> resources = load(Path.of("../examples/quickstart"));
    assertThat(resources)
        .extracting(r -> r.getKind())
        .containsExactly("CurationJob", "PackJob", "PretrainRun");
    assertValidAndChained(resources);
    assertThat(resources.get(0).getMetadata().getAnnotations())
        .containsKey("tessera.dev/synthetic-data");
  }

  @Test
  void aTypoInAnExampleFieldIsRefused() {
    String yaml =
        "apiVersion: tessera.dev/v1alpha1\nkind: PackJob\nmetadata: {name: p}\nspec: {seqLenght: 4096}\n";
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> STRICT.treeToValue(new YAMLMapper().readTree(yaml), PackJob.class))
        .hasMessageContaining("seqLenght");
  }

  private static void assertValidAndChained(List<CustomResource<?, ?>> resources) {
    Map<String, String> kinds = new HashMap<>();
    for (CustomResource<?, ?> r : resources) {
      assertThat(problems(r)).as(r.getKind() + " " + r.getMetadata().getName()).isEmpty();
      kinds.put(r.getMetadata().getName(), r.getKind());
    }
    for (CustomResource<?, ?> r : resources) {
      InputRef ref =
          r instanceof PackJob p
              ? p.getSpec().input
              : r instanceof PretrainRun p
                  ? p.getSpec().input
                  : r instanceof FinetuneRun f ? f.getSpec().init : null;
      if (ref != null && ref.kind() != null) {
        assertThat(kinds)
            .as("input of " + r.getMetadata().getName())
            .containsEntry(ref.name(), ref.kind());
      }
    }
  }
}
