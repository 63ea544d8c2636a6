package dev.tessera.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.api.v1alpha1.CheckpointSpec;
import dev.tessera.api.v1alpha1.Conditions;
import dev.tessera.api.v1alpha1.CurationJob;
import dev.tessera.api.v1alpha1.CurationJobSpec;
import dev.tessera.api.v1alpha1.FinetuneRun;
import dev.tessera.api.v1alpha1.FinetuneRunSpec;
import dev.tessera.api.v1alpha1.InputRef;
import dev.tessera.api.v1alpha1.PackInput;
import dev.tessera.api.v1alpha1.PackJob;
import dev.tessera.api.v1alpha1.Phase;
import dev.tessera.api.v1alpha1.PretrainRun;
import dev.tessera.api.v1alpha1.SelectLeaf;
import dev.tessera.api.v1alpha1.SelectRule;
import dev.tessera.api.v1alpha1.SelectTerm;
import dev.tessera.api.v1alpha1.TrainingSpec;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import io.restassured.RestAssured;
import jakarta.inject.Inject;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A CurationJob through its three stages, a PackJob chained to it, and a FinetuneRun. */
@QuarkusTest
@WithKubernetesTestServer
class CurationJobLifecycleTest {
  @Inject KubernetesClient client;

  static CurationJob curationJob(String name) {
    CurationJob job = new CurationJob();
    job.setMetadata(new ObjectMetaBuilder().withName(name).build());
    CurationJobSpec spec = new CurationJobSpec();
    spec.input = "raw/{00000..01302}.tar";
    spec.output = new CurationJobSpec.Output();
    spec.output.path = "curated";
    spec.output.samplesPerShard = 10000;
    spec.parallelism = 2;
    spec.filters = new CurationJobSpec.Filters();
    CurationJobSpec.UidList dfn = new CurationJobSpec.UidList();
    dfn.name = "dfn";
    dfn.path = "lists/dfn_uids.npy";
    dfn.mode = "flag";
    spec.filters.uidLists = List.of(dfn);
    SelectTerm su = new SelectTerm();
    su.score = "su";
    su.atLeast = 85.0;
    SelectTerm flag = new SelectTerm();
    flag.flag = "dfn";
    spec.select = new SelectRule();
    spec.select.any = List.of(su, flag);
    spec.storage = ClusterSimulation.storage();
    job.setSpec(spec);
    return job;
  }

  @Test
  void scoreSelectReshardThenPack() throws Exception {
    ClusterSimulation cluster = new ClusterSimulation(client, client.getNamespace());
    PackJob pack = PretrainRunLifecycleTest.packJob("pack-cj");
    pack.getSpec().input = new InputRef();
    pack.getSpec().input.curationJob = "cj1";
    client.resource(pack).create();
    CurationJob withGpu = curationJob("cj1");
    // A GPU per pod: the score phase runs its model scorers on it.
    withGpu.getSpec().resources =
        new ResourceRequirementsBuilder().addToLimits("nvidia.com/gpu", new Quantity("1")).build();
    CurationJob cj = client.resource(withGpu).create();

    // The spec reaches the worker as its curation.yaml, a ConfigMap its pods mount: it exists
    // before their Job does.
    Job score = cluster.awaitJob("cj1-score");
    ConfigMap spec = client.configMaps().withName("cj1-spec").get();
    assertThat(spec).as("the spec ConfigMap, once the Job exists").isNotNull();
    JsonNode yaml = new ObjectMapper().readTree(spec.getData().get("curation.yaml"));
    assertThat(yaml.path("input").asText()).isEqualTo("raw/{00000..01302}.tar");
    assertThat(yaml.path("select").path("any").get(0).path("atLeast").asDouble()).isEqualTo(85.0);
    assertThat(yaml.has("storage")).as("pod settings stay out of the worker's file").isFalse();
    assertThat(score.getSpec().getCompletions()).isEqualTo(2);
    assertThat(score.getSpec().getPodFailurePolicy().getRules())
        .anySatisfy(r -> assertThat(r.getAction()).isEqualTo("Ignore"));
    assertThat(score.getSpec().getTemplate().getSpec().getContainers().get(0).getArgs())
        .containsSubsequence("curate", "--config", "/etc/tessera/curation.yaml")
        .containsSubsequence("--paths-relative-to", "/data")
        .containsSubsequence("--phase", "score", "--shard-count", "2")
        .containsSubsequence("--backend", "cuda");
    // The GPU stage runs the curator's CUDA variant, the others the CPU image.
    assertThat(score.getSpec().getTemplate().getSpec().getContainers().get(0).getImage())
        .isEqualTo("ghcr.io/tessera-dev/tessera-curator:0.1.0-cuda13");

    // Two score pods report; their counters add up.
    cluster.running("cj1-score", 2);
    cluster.report(
        cj,
        0,
        "{\"version\":2,\"progress\":{\"phase\":\"score\",\"done\":300,\"total\":652,\"samples\":3000000,\"kept\":2500000,\"unreadable\":1200},\"updated\":\"2026-11-26T10:00:00Z\"}");
    cluster.report(
        cj,
        1,
        "{\"version\":2,\"progress\":{\"phase\":\"score\",\"done\":351,\"total\":651,\"samples\":3510000,\"kept\":2900000,\"unreadable\":300},\"updated\":\"2026-11-26T10:00:01Z\"}");
    CurationJob scoring =
        cluster.awaitStatus(
            CurationJob.class,
            "cj1",
            s -> s.progress != null && s.progress.done != null && s.progress.done == 651);
    assertThat(scoring.getStatus().progress.total).isEqualTo(1303);
    assertThat(scoring.getStatus().progress.samples).isEqualTo(6_510_000);
    assertThat(scoring.getStatus().progress.unreadable).isEqualTo(1500);
    assertThat(scoring.getStatus().progress.stage).isEqualTo("score");
    assertThat(scoring.getStatus().progress.percent).isEqualTo(16.7);
    assertThat(scoring.getStatus().phase).isEqualTo(Phase.Running);
    PackJob waiting = cluster.awaitStatus(PackJob.class, "pack-cj", s -> s.phase == Phase.Waiting);
    assertThat(waiting.getStatus().condition(Conditions.INPUT_READY).getMessage())
        .contains("CurationJob cj1");

    cluster.complete("cj1-score");
    Job select = cluster.awaitJob("cj1-select");
    assertThat(select.getSpec().getCompletions()).isEqualTo(1);
    assertThat(select.getSpec().getTemplate().getSpec().getContainers().get(0).getArgs())
        .doesNotContain("--backend");
    assertThat(select.getSpec().getTemplate().getSpec().getContainers().get(0).getImage())
        .isEqualTo("ghcr.io/tessera-dev/tessera-curator:0.1.0");
    cluster.report(
        cj,
        0,
        "{\"version\":3,\"progress\":{\"samples\":6510000,\"kept\":2200000,\"rejections\":{\"near_duplicate\":410000,\"not_selected\":3900000}},\"updated\":\"2026-11-26T10:10:00Z\"}");
    cluster.complete("cj1-select");
    Job reshard = cluster.awaitJob("cj1-reshard");
    assertThat(reshard.getSpec().getCompletions()).isEqualTo(2);
    CurationJob selected =
        cluster.awaitStatus(
            CurationJob.class, "cj1", s -> s.progress != null && s.progress.rejections != null);
    assertThat(selected.getStatus().stagesDone).containsExactly("score", "select");
    assertThat(selected.getStatus().progress.kept).isEqualTo(2_200_000);
    assertThat(selected.getStatus().progress.rejections).containsEntry("near_duplicate", 410_000L);

    await()
        .atMost(ClusterSimulation.TIMEOUT)
        .untilAsserted(
            () ->
                assertThat(RestAssured.get("/q/metrics").asString())
                    .contains(
                        "tessera_curation_rejected{kind=\"CurationJob\",name=\"cj1\",namespace=\""
                            + client.getNamespace()
                            + "\",reason=\"near_duplicate\"} 410000.0")
                    .contains("tessera_curation_kept{kind=\"CurationJob\",name=\"cj1\"")
                    .contains(
                        "tessera_curation_unreadable{kind=\"CurationJob\",name=\"cj1\",namespace=\""
                            + client.getNamespace()
                            + "\"} 1500.0"));

    cluster.complete("cj1-reshard");
    CurationJob done =
        cluster.awaitStatus(CurationJob.class, "cj1", s -> s.phase == Phase.Succeeded);
    assertThat(done.getStatus().output.path).isEqualTo("curated/shards");
    assertThat(done.getStatus().progress.percent).isEqualTo(100.0);

    // The PackJob packs what the curation kept.
    Job packing = cluster.awaitJob("pack-cj-pack");
    assertThat(packing.getSpec().getTemplate().getSpec().getContainers().get(0).getArgs())
        .containsSubsequence("--input", "curated/shards");
  }

  /**
   * A PackJob with several inputs waits for every CurationJob among them, and packs their outputs
   * and its paths together, in the order given.
   */
  @Test
  void aPackJobWithSeveralInputsWaitsForAllOfThem() {
    ClusterSimulation cluster = new ClusterSimulation(client, client.getNamespace());
    PackJob pack = PretrainRunLifecycleTest.packJob("pack-mix");
    PackInput first = new PackInput();
    first.curationJob = "mix-a";
    PackInput second = new PackInput();
    second.curationJob = "mix-b";
    second.repeat = 2.0;
    pack.getSpec().input = null;
    pack.getSpec().inputs =
        List.of(first, second, PackInput.of(InputRef.path("extra/shards"), 0.5));
    client.resource(pack).create();
    for (String name : List.of("mix-a", "mix-b")) {
      CurationJob curation = curationJob(name);
      curation.getSpec().output.path = "curated-" + name;
      client.resource(curation).create();
    }
    PackJob both =
        cluster.awaitCondition(
            PackJob.class,
            "pack-mix",
            Conditions.INPUT_READY,
            // Both found (the PackJob may be reconciled before the CurationJobs exist).
            c ->
                c.getMessage().contains("mix-a (phase") && c.getMessage().contains("mix-b (phase"));
    assertThat(both.getStatus().phase).isEqualTo(Phase.Waiting);
    assertThat(both.getStatus().condition(Conditions.INPUT_READY).getMessage())
        .startsWith("waiting for CurationJob mix-a (phase ")
        .contains(", CurationJob mix-b (phase ");

    for (String stage : List.of("score", "select", "reshard")) {
      cluster.complete(cluster.awaitJob("mix-a-" + stage).getMetadata().getName());
    }
    cluster.awaitStatus(CurationJob.class, "mix-a", s -> s.phase == Phase.Succeeded);
    PackJob one =
        cluster.awaitCondition(
            PackJob.class,
            "pack-mix",
            Conditions.INPUT_READY,
            c -> !c.getMessage().contains("mix-a"));
    assertThat(one.getStatus().condition(Conditions.INPUT_READY).getMessage())
        .startsWith("waiting for CurationJob mix-b (phase ");
    assertThat(client.batch().v1().jobs().withName("pack-mix-pack").get()).isNull();

    for (String stage : List.of("score", "select", "reshard")) {
      cluster.complete(cluster.awaitJob("mix-b-" + stage).getMetadata().getName());
    }
    Job packing = cluster.awaitJob("pack-mix-pack");
    cluster.awaitChildren(pack);
    assertThat(packing.getSpec().getTemplate().getSpec().getContainers().get(0).getArgs())
        .containsSubsequence(
            "--input",
            "curated-mix-a/shards",
            "--input",
            "curated-mix-b/shards",
            "--repeat",
            "2.0",
            "--input",
            "extra/shards",
            "--repeat",
            "0.5",
            "--out");
    PackJob ready =
        cluster.awaitCondition(
            PackJob.class, "pack-mix", Conditions.INPUT_READY, c -> "True".equals(c.getStatus()));
    assertThat(ready.getStatus().condition(Conditions.INPUT_READY).getMessage())
        .isEqualTo(
            "CurationJob mix-a succeeded: curated-mix-a/shards;"
                + " CurationJob mix-b succeeded: curated-mix-b/shards");
  }

  @Test
  void finetuneStartsFromThePretrainRunsOutput() {
    ClusterSimulation cluster = new ClusterSimulation(client, client.getNamespace());
    FinetuneRun ft = new FinetuneRun();
    ft.setMetadata(new ObjectMetaBuilder().withName("ft1").build());
    FinetuneRunSpec spec = new FinetuneRunSpec();
    spec.conversations = "sft/llava_v1_5_mix665k.json";
    spec.imageFolder = "sft/images";
    spec.tokenizer = "tokenizer.json";
    spec.init = new InputRef();
    spec.init.pretrainRun = "ptr-ft";
    spec.initCheckpoint = "best";
    spec.output = "runs/ft1";
    spec.gpusPerNode = 8;
    spec.training = new TrainingSpec();
    spec.training.epochs = 1.0;
    spec.checkpoints = new CheckpointSpec();
    spec.checkpoints.stopGracePeriodSeconds = 90L;
    spec.storage = ClusterSimulation.storage();
    ft.setSpec(spec);
    client.resource(ft).create();
    cluster.awaitStatus(FinetuneRun.class, "ft1", s -> s.phase == Phase.Waiting);

    PretrainRun pretrain = PretrainRunLifecycleTest.pretrainRun("ptr-ft", null);
    pretrain.getSpec().input = InputRef.path("packed");
    pretrain.getSpec().queueName = null;
    client.resource(pretrain).create();
    cluster.awaitJob("ptr-ft-train");
    cluster.complete("ptr-ft-train");

    Job train = cluster.awaitJob("ft1-train");
    var container = train.getSpec().getTemplate().getSpec().getContainers().get(0);
    assertThat(container.getArgs())
        .containsSubsequence(
            "finetune", "--data", "sft/llava_v1_5_mix665k.json", "--init", "runs/ptr-ft")
        .containsSubsequence("--init-checkpoint", "best")
        .containsSubsequence("--epochs", "1.0")
        .containsSubsequence("--ranks", "8")
        .containsSubsequence("--backend", "cuda")
        .doesNotContain("--local-ranks");
    assertThat(container.getResources().getLimits().get("nvidia.com/gpu").getAmount())
        .isEqualTo("8");
    assertThat(train.getSpec().getCompletions()).isEqualTo(1);
    assertThat(train.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds())
        .isEqualTo(90L);
    assertThat(container.getEnv()).noneMatch(e -> e.getName().equals("TESSERA_RENDEZVOUS"));
  }

  @Test
  void healthAndReadinessAreServed() {
    RestAssured.get("/q/health/ready").then().statusCode(200);
    RestAssured.get("/q/health/live").then().statusCode(200);
  }

  @Test
  void invalidCurationSpecsFailWithTheReason() {
    ClusterSimulation cluster = new ClusterSimulation(client, client.getNamespace());
    CurationJob bad = curationJob("cj-bad");
    SelectLeaf both = new SelectLeaf();
    both.score = "su";
    both.atLeast = 85.0;
    both.topFraction = 0.3;
    SelectTerm group = new SelectTerm();
    group.all = List.of(both);
    bad.getSpec().select.any = List.of(group);
    bad.getSpec().output.path = "../elsewhere";
    client.resource(bad).create();
    CurationJob failed =
        cluster.awaitStatus(CurationJob.class, "cj-bad", s -> s.phase == Phase.Failed);
    assertThat(failed.getStatus().condition(Conditions.FAILED).getMessage())
        .contains("a score test needs exactly one of atLeast, atMost and topFraction")
        .contains("output.path must be a path inside the storage volume");
    assertThat(client.batch().v1().jobs().withLabel(Labels.NAME, "cj-bad").list().getItems())
        .isEmpty();
  }
}
