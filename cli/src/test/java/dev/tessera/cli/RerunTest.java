package dev.tessera.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tessera.api.v1alpha1.OutputRecord;
import dev.tessera.api.v1alpha1.Phase;
import dev.tessera.api.v1alpha1.TesseraStatus;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tessera run --rerun NAME}: a stage and what reads its output run from scratch. */
class RerunTest {
  @TempDir Path dir;

  /** Two curations, a PackJob reading one of them, and a run reading the PackJob. */
  static final String PIPELINE =
      DryRunTest.PIPELINE
          + """
          ---
          apiVersion: tessera.dev/v1alpha1
          kind: CurationJob
          metadata: {name: other}
          spec:
            input: raw/{00000..00001}.tar
            output: {path: curated-other}
          """;

  private Pipeline pipeline(String yaml) throws IOException {
    Path file = Files.writeString(dir.resolve("pipeline.yaml"), yaml);
    return Pipeline.load(file, new PrintStream(new ByteArrayOutputStream()));
  }

  /** Every stage succeeded, each output directory holding a file. */
  private LocalState succeeded(Path volume, Pipeline pipeline) throws IOException {
    LocalState state = LocalState.open(volume);
    for (Stage stage : pipeline.stages()) {
      Files.createDirectories(volume.resolve(stage.outputForNext()));
      Files.writeString(volume.resolve(stage.outputDir()).resolve("done"), stage.id());
      TesseraStatus done = new TesseraStatus();
      done.phase = Phase.Succeeded;
      done.output = new OutputRecord();
      done.output.path = stage.outputForNext();
      state.put(stage.id(), LocalRunner.specTree(stage), done);
    }
    return state;
  }

  @Test
  void aStageAndEveryStageReadingItsOutputAreRemovedAndForgotten() throws IOException {
    Pipeline pipeline = pipeline(PIPELINE);
    Path volume = dir.resolve("volume");
    succeeded(volume, pipeline);
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    LocalRunner runner =
        new LocalRunner(volume, new PrintStream(printed, true, StandardCharsets.UTF_8), false);

    List<Stage> again = pipeline.withDependents(List.of("cur"));
    assertThat(again)
        .extracting(Stage::id)
        .containsExactly("CurationJob/cur", "PackJob/pack", "PretrainRun/pt");
    runner.rerun(again);

    for (String gone : List.of("curated", "packed", "runs/pt")) {
      assertThat(volume.resolve(gone)).as(gone).doesNotExist();
    }
    assertThat(volume.resolve("curated-other/done")).exists();
    LocalState reread = LocalState.open(volume);
    assertThat(reread.entries().keySet()).containsExactly("CurationJob/other");
    assertThat(printed.toString(StandardCharsets.UTF_8))
        .contains("↺ CurationJob  cur                  runs again from scratch: removed curated")
        .contains("↺ PretrainRun  pt                   runs again from scratch: removed runs/pt");

    // Rerunning the last stage touches nothing before it.
    succeeded(volume, pipeline);
    assertThat(pipeline.withDependents(List.of("PretrainRun/pt")))
        .extracting(Stage::id)
        .containsExactly("PretrainRun/pt");
  }

  @Test
  void aNameThatIsNotThereOrAnOutputThatIsTheVolumeIsRefused() throws IOException {
    Pipeline pipeline = pipeline(PIPELINE);
    assertThatThrownBy(() -> pipeline.withDependents(List.of("nope")))
        .isInstanceOf(PipelineError.class)
        .hasMessage("--rerun nope: no resource of that name in the pipeline");

    Pipeline volumeItself = pipeline(PIPELINE.replace("output: packed", "output: ."));
    Stage pack = volumeItself.withDependents(List.of("pack")).get(0);
    assertThatThrownBy(() -> LocalRunner.outputOf(dir.resolve("volume"), pack))
        .isInstanceOf(PipelineError.class)
        .hasMessageContaining("output . is not a directory inside the volume");
  }

  @Test
  void aDryRunSaysWhatARerunWouldRemove() throws IOException {
    Path volume = dir.resolve("volume");
    succeeded(volume, pipeline(PIPELINE));
    Files.createDirectories(volume.resolve("raw"));
    Files.createDirectories(volume.resolve("extra/shards"));
    Files.writeString(volume.resolve("tokenizer.json"), "{}");
    for (String shard : List.of("raw/00000.tar", "raw/00001.tar", "extra/shards/00000.tar")) {
      Files.write(volume.resolve(shard), new byte[1024]);
    }
    Path file = dir.resolve("pipeline.yaml");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int code =
        TesseraMain.commandLine(new PrintStream(out, true, StandardCharsets.UTF_8))
            .execute(
                "run",
                file.toString(),
                "--volume",
                volume.toString(),
                "--dry-run",
                "--rerun",
                "pack");
    String printed = out.toString(StandardCharsets.UTF_8);
    assertThat(code).as(printed).isZero();
    assertThat(printed)
        .contains("✓ CurationJob  cur                  already succeeded")
        .contains(
            "• PackJob      pack                 would run again from scratch, removing packed first")
        .contains(
            "• PretrainRun  pt                   would run again from scratch, removing runs/pt first");
    assertThat(volume.resolve("packed/done")).exists();
  }
}
