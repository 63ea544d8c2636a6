package dev.tessera.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.model.config.ModelParameters;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.trainer.pretrain.MemoryPlan;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class PlanCommandTest {
  private static Path config(String name) throws URISyntaxException {
    return Path.of(PlanCommandTest.class.getResource("/configs/" + name).toURI());
  }

  @Test
  void openQwen2vlOnEightRanksFitsAnH100AndShardsTheOptimizer() throws Exception {
    Qwen2Config llm = Qwen2Config.read(config("qwen2.5-1.5b-instruct").resolve("config.json"));
    SiglipVisionConfig vision =
        SiglipVisionConfig.read(config("siglip-so400m-patch14-384").resolve("config.json"));
    long trained =
        ModelParameters.qwen2(llm).count()
            + ModelParameters.projector(vision.hiddenSize(), llm.hiddenSize()).count();

    MemoryPlan zero1 = MemoryPlan.of(llm, vision, 144, 4096, 1, 8, 1, true);
    assertThat(zero1.components().get("AdamW moments")).isEqualTo(8 * trained / 8);
    assertThat(zero1.components().get("fp32 gradients")).isEqualTo(4 * trained);
    MemoryPlan zero0 = MemoryPlan.of(llm, vision, 144, 4096, 1, 8, 0, true);
    assertThat(zero0.components().get("AdamW moments")).isEqualTo(8 * trained);
    // ZeRO-2 reduces each gradient to its owner: less traffic, the same buffers.
    MemoryPlan zero2 = MemoryPlan.of(llm, vision, 144, 4096, 1, 8, 2, true);
    assertThat(zero2.total()).isEqualTo(zero1.total());
    MemoryPlan full = MemoryPlan.of(llm, vision, 144, 4096, 1, 8, 1, false);
    assertThat(full.components().get("decoder activations"))
        .isGreaterThan(10 * zero1.components().get("decoder activations"));
    assertThat(zero1.fits(80L << 30)).isTrue();
    assertThat(zero1.components()).containsKey("vision tower forward");
    // The decoder alone, as gpu-check trains it: no tower, no projector.
    MemoryPlan decoder = MemoryPlan.of(llm, null, 144, 4096, 1, 1, 0, false);
    assertThat(decoder.components()).doesNotContainKey("vision tower forward");
    assertThat(decoder.components().get("fp32 weights (all parts)"))
        .isEqualTo(4 * ModelParameters.qwen2(llm).count());

    StringWriter out = new StringWriter();
    CommandLine cli = TrainerMain.commandLine();
    cli.setOut(new PrintWriter(out, true));
    int exit =
        cli.execute(
            "plan",
            "--llm",
            config("qwen2.5-1.5b-instruct").toString(),
            "--vision",
            config("siglip-so400m-patch14-384").toString());
    assertThat(exit).isZero();
    assertThat(out.toString())
        .contains("8 ranks, ZeRO-1")
        .contains(
            String.format(Locale.ROOT, "%.2f GiB of 80 GiB", zero1.total() / (double) (1L << 30)))
        .contains("fits");
  }

  @Test
  void aConfigurationThatDoesNotFitIsRefused() throws Exception {
    StringWriter out = new StringWriter();
    CommandLine cli = TrainerMain.commandLine();
    cli.setOut(new PrintWriter(out, true));
    int exit =
        cli.execute(
            "plan",
            "--llm",
            config("qwen2.5-1.5b-instruct").toString(),
            "--vision",
            config("siglip-so400m-patch14-384").toString(),
            "--ranks",
            "1",
            "--zero",
            "0",
            "--device-memory",
            "16");
    assertThat(exit).isEqualTo(PlanCommand.DOES_NOT_FIT);
    assertThat(out.toString()).contains("does not fit");
  }
}
