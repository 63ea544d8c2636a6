package dev.tessera.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every way a pipeline can be wrong gives one line naming the file and the field. */
class PipelineErrorsTest {
  @TempDir Path dir;

  static final String PACK =
      """
      apiVersion: tessera.dev/v1alpha1
      kind: PackJob
      metadata: {name: pack}
      spec:
        input: {path: curated/shards}
        output: packed
        tokenizer: tokenizer.json
      """;

  /** Runs {@code tessera run} on {@code yaml}; returns the error line. */
  private String error(String yaml) throws IOException {
    Path file = dir.resolve("pipeline.yaml");
    Files.writeString(file, yaml);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    StringWriter err = new StringWriter();
    var cli = TesseraMain.commandLine(new PrintStream(out, true, StandardCharsets.UTF_8));
    cli.setErr(new PrintWriter(err, true));
    int code =
        cli.execute(
            "run", file.toString(), "--volume", dir.resolve("volume").toString(), "--no-report");
    assertThat(code).isEqualTo(TesseraMain.PIPELINE_ERROR);
    String message = err.toString().strip();
    assertThat(message).as("one line").doesNotContain("\n").startsWith("error: " + file);
    return message;
  }

  @Test
  void badYamlNamesTheLine() throws IOException {
    assertThat(
            error("apiVersion: tessera.dev/v1alpha1\nkind: PackJob\nmetadata: {name: [unclosed\n"))
        .contains("pipeline.yaml:")
        .contains("not valid YAML");
  }

  @Test
  void anUnknownKindIsNamed() throws IOException {
    assertThat(
            error(
                "apiVersion: tessera.dev/v1alpha1\nkind: PackJobb\nmetadata: {name: p}\nspec: {}\n"))
        .contains("document 1: kind: unknown kind 'PackJobb'");
  }

  @Test
  void anUnknownFieldIsNamedWithItsPath() throws IOException {
    assertThat(error(PACK + "  seqLenght: 4096\n"))
        .contains("PackJob pack: spec.seqLenght: unknown field");
  }

  @Test
  void aWrongTypeIsNamedWithItsPath() throws IOException {
    assertThat(error(PACK + "  seqLength: long\n")).contains("PackJob pack: spec.seqLength:");
  }

  @Test
  void aValueWhereAnObjectBelongsNamesTheObjectsFields() throws IOException {
    assertThat(error(PACK.replace("{path: curated/shards}", "curated/shards")))
        .contains("PackJob pack: spec.input: expected an object with the fields ")
        .contains("curationJob", "packJob", "pretrainRun", "path");
  }

  @Test
  void aValueOutsideTheSchemasBoundsIsRefusedAsKubectlWouldRefuseIt() throws IOException {
    assertThat(error(PACK + "  seqLength: -5\n"))
        .contains("PackJob pack:")
        .contains("spec.seqLength must be >= 64, got -5");
  }

  @Test
  void aMissingInputResourceIsNamed() throws IOException {
    assertThat(error(PACK.replace("{path: curated/shards}", "{curationJob: nope}")))
        .contains(
            "PackJob pack: spec.input.curationJob: no CurationJob named 'nope' in the pipeline");
  }

  @Test
  void aMissingInputAmongSeveralIsNamedWithItsIndex() throws IOException {
    String curation =
        """
        apiVersion: tessera.dev/v1alpha1
        kind: CurationJob
        metadata: {name: ccs}
        spec:
          input: raw/{00000..00003}.tar
          output: {path: curated-ccs}
        ---
        """;
    assertThat(
            error(
                curation
                    + PACK.replace(
                        "input: {path: curated/shards}",
                        "inputs: [{curationJob: ccs}, {curationJob: nope}]")))
        .contains(
            "PackJob pack: spec.inputs[1].curationJob: no CurationJob named 'nope' in the"
                + " pipeline");
  }

  @Test
  void aRepeatOutsideItsBoundsIsRefusedWithItsIndex() throws IOException {
    assertThat(
            error(
                PACK.replace(
                    "input: {path: curated/shards}",
                    "inputs: [{path: curated/shards, repeat: 2}, {path: more/shards, repeat: 0}]")))
        .contains("PackJob pack:")
        .contains("spec.inputs[1].repeat must be > 0, got 0.0");
  }

  @Test
  void anUnknownInitCheckpointIsRefused() throws IOException {
    assertThat(
            error(
                """
                apiVersion: tessera.dev/v1alpha1
                kind: FinetuneRun
                metadata: {name: sft}
                spec:
                  init: {path: runs/pt}
                  initCheckpoint: first
                  conversations: sft.json
                  tokenizer: tokenizer.json
                  output: runs/sft
                  training: {steps: 10}
                """))
        .contains("FinetuneRun sft:")
        .contains("spec.initCheckpoint must match ^(latest|best)$, got 'first'");
  }

  @Test
  void aMissingInputPathIsNamed() throws IOException {
    assertThat(error(PACK))
        .contains("PackJob pack: spec.input.path: curated/shards is not on the volume");
  }

  @Test
  void aReferenceCycleIsNamed() throws IOException {
    String curation =
        """
        apiVersion: tessera.dev/v1alpha1
        kind: CurationJob
        metadata: {name: curate}
        spec:
          input: 'packed/{00000..00001}.tar'
          output: {path: curated}
        ---
        """;
    assertThat(error(curation + PACK))
        .contains("reference cycle: ")
        .contains("CurationJob curate (spec.input)")
        .contains("PackJob pack (spec.input.path)");
  }

  @Test
  void aBrokenRuleGivesTheCrdMessage() throws IOException {
    assertThat(error(PACK.replace("output: packed", "output: ../packed")))
        .contains("PackJob pack: output must be a path inside the storage volume");
  }

  @Test
  void aNameDefinedTwiceIsNamed() throws IOException {
    assertThat(error(PACK + "---\n" + PACK)).contains("metadata.name: defined twice");
  }

  @Test
  void otherResourcesAreSkippedAndNothingIsAnError() throws IOException {
    assertThat(error("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n"))
        .contains("no Tessera resources");
  }
}
