package dev.tessera.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The committed CRDs ({@code crds/} and the chart's copy) are exactly what the generator makes from
 * the Java types, so a change to the types cannot ship with stale CRDs. {@code ./mvnw -pl api
 * verify -Dtessera.updateCrds=true} rewrites them.
 */
class CrdsUpToDateTest {
  private static final Path GENERATED = Path.of("target/classes/META-INF/fabric8");
  private static final List<Path> COMMITTED =
      List.of(Path.of("../crds"), Path.of("../charts/tessera/crds"));

  @Test
  void committedCrdsMatchTheGeneratedOnes() throws IOException {
    List<Path> generated;
    try (Stream<Path> files = Files.list(GENERATED)) {
      generated = files.filter(f -> f.toString().endsWith("-v1.yml")).sorted().toList();
    }
    assertThat(generated)
        .extracting(f -> f.getFileName().toString())
        .containsExactly(
            "curationjobs.tessera.dev-v1.yml",
            "finetuneruns.tessera.dev-v1.yml",
            "packjobs.tessera.dev-v1.yml",
            "pretrainruns.tessera.dev-v1.yml");
    boolean update = Boolean.getBoolean("tessera.updateCrds");
    for (Path dir : COMMITTED) {
      if (update) {
        Files.createDirectories(dir);
        for (Path file : generated) {
          Files.copy(file, dir.resolve(file.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
      }
      for (Path file : generated) {
        Path committed = dir.resolve(file.getFileName());
        assertThat(committed)
            .as(
                "%s is stale or missing; regenerate with ./mvnw -pl api verify"
                    + " -Dtessera.updateCrds=true",
                committed)
            .exists();
        assertThat(Files.readString(committed))
            .as(
                "%s differs from the CRD generated from the api types; regenerate with ./mvnw -pl"
                    + " api verify -Dtessera.updateCrds=true",
                committed)
            .isEqualTo(Files.readString(file));
      }
      try (Stream<Path> files = Files.list(dir)) {
        assertThat(files.map(f -> f.getFileName().toString()))
            .as("%s holds only generated CRDs", dir)
            .containsExactlyInAnyOrderElementsOf(
                generated.stream().map(f -> f.getFileName().toString()).toList());
      }
    }
  }

  /**
   * {@code kubectl get} shows every kind's phase and why: the Running condition's reason
   * (JobRunning, Completed, ImagePullBackOff, Unschedulable, OOMKilled, ...).
   */
  @Test
  void everyKindShowsThePhaseAndItsReason() throws IOException {
    try (Stream<Path> files = Files.list(GENERATED)) {
      for (Path crd : files.filter(f -> f.toString().endsWith("-v1.yml")).toList()) {
        com.fasterxml.jackson.databind.JsonNode columns =
            new com.fasterxml.jackson.dataformat.yaml.YAMLMapper()
                .readTree(crd.toFile())
                .at("/spec/versions/0/additionalPrinterColumns");
        List<String> shown = new java.util.ArrayList<>();
        columns.forEach(
            c -> shown.add(c.path("name").asText() + " " + c.path("jsonPath").asText()));
        assertThat(shown)
            .as(crd.getFileName().toString())
            .contains(
                "Phase .status.phase", "Reason .status.conditions[?(@.type==\"Running\")].reason");
      }
    }
  }
}
