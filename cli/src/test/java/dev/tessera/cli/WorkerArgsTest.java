package dev.tessera.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.api.v1alpha1.FinetuneRun;
import dev.tessera.api.v1alpha1.FinetuneRunSpec;
import dev.tessera.api.v1alpha1.InputRef;
import dev.tessera.api.v1alpha1.PackInput;
import dev.tessera.api.v1alpha1.PackJob;
import dev.tessera.api.v1alpha1.PackJobSpec;
import dev.tessera.api.v1alpha1.PretrainRun;
import dev.tessera.api.v1alpha1.PretrainRunSpec;
import dev.tessera.api.v1alpha1.TrainingSpec;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorkerArgsTest {
  @TempDir Path volume;

  /**
   * A run of several nodes trains locally with all its ranks as threads of one process: the same
   * ranks, so the same training, as on the cluster.
   */
  @Test
  void everyRankOfEveryNodeRunsAsAThreadHere() throws IOException {
    assertThat(argsFor(2, 0)).containsSubsequence("--ranks", "2", "--backend", "cpu");
    List<String> gpus = argsFor(2, 4);
    assertThat(gpus).containsSubsequence("--ranks", "8", "--backend", "cuda");
    assertThat(gpus).doesNotContain("--local-ranks", "--rendezvous");
    assertThat(argsFor(1, 0)).containsSubsequence("--ranks", "1");
  }

  private List<String> argsFor(int nodes, int gpusPerNode) throws IOException {
    PretrainRun run = new PretrainRun();
    run.setMetadata(new ObjectMetaBuilder().withName("ptr").build());
    PretrainRunSpec spec = new PretrainRunSpec();
    spec.output = "runs/ptr";
    spec.nodes = nodes;
    spec.gpusPerNode = gpusPerNode;
    spec.training = new TrainingSpec();
    spec.training.steps = 10L;
    run.setSpec(spec);
    return WorkerArgs.of(
        new Stage(volume.resolve("ptr.yaml"), run),
        volume,
        List.of("packed"),
        volume.resolve("p.json"));
  }

  /** A FinetuneRun asking for its init run's best checkpoint says so to the worker. */
  @Test
  void aFinetuneRunFromTheBestCheckpointSaysSo() throws IOException {
    FinetuneRun ft = new FinetuneRun();
    ft.setMetadata(new ObjectMetaBuilder().withName("ft").build());
    FinetuneRunSpec spec = new FinetuneRunSpec();
    spec.conversations = "sft.json";
    spec.tokenizer = "tokenizer.json";
    spec.init = new InputRef();
    spec.init.pretrainRun = "ptr";
    spec.output = "runs/ft";
    spec.gpusPerNode = 0;
    spec.training = new TrainingSpec();
    spec.training.steps = 10L;
    ft.setSpec(spec);
    Stage stage = new Stage(volume.resolve("ft.yaml"), ft);
    List<String> latest =
        WorkerArgs.of(stage, volume, List.of("runs/ptr"), volume.resolve("p.json"));
    assertThat(latest)
        .containsSubsequence("finetune", "--init", volume.resolve("runs/ptr").toString())
        .doesNotContain("--init-checkpoint");
    spec.initCheckpoint = "best";
    assertThat(WorkerArgs.of(stage, volume, List.of("runs/ptr"), volume.resolve("p.json")))
        .containsSubsequence("--init-checkpoint", "best");
  }

  @Test
  void aPackJobWithSeveralInputsPacksThemInTheirOrder() throws IOException {
    PackJob pack = new PackJob();
    pack.setMetadata(new ObjectMetaBuilder().withName("pack").build());
    PackJobSpec spec = new PackJobSpec();
    spec.inputs =
        List.of(
            PackInput.of(InputRef.path("ccs/shards"), null),
            PackInput.of(InputRef.path("datacomp/{0..1}.tar"), 0.5));
    spec.output = "packed";
    spec.tokenizer = "tokenizer.json";
    pack.setSpec(spec);
    List<String> args =
        WorkerArgs.of(
            new Stage(volume.resolve("pack.yaml"), pack),
            volume,
            List.of("ccs/shards", "datacomp/{0..1}.tar"),
            volume.resolve("p.json"));
    assertThat(args)
        .containsSubsequence(
            "pack",
            "--input",
            volume.resolve("ccs/shards").toString(),
            "--input",
            volume.resolve("datacomp/{0..1}.tar").toString(),
            "--repeat",
            "0.5",
            "--out");
  }
}
