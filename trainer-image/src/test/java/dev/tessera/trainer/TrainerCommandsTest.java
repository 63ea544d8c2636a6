package dev.tessera.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.engine.DType;
import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.io.SafetensorsWriter;
import dev.tessera.model.qwen2.Qwen2Decoder;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class TrainerCommandsTest {
  @TempDir Path dir;
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();
  private final CpuBackend cpu = CpuBackend.get();

  private int run(String... args) {
    CommandLine command = TrainerMain.commandLine();
    command.setOut(new PrintWriter(out, true));
    command.setErr(new PrintWriter(err, true));
    return command.execute(args);
  }

  private static Path resource(String name) throws URISyntaxException {
    return Path.of(TrainerCommandsTest.class.getResource("/configs/" + name).toURI());
  }

  @Test
  void paramsReportsTheRealModelsCounts() throws URISyntaxException {
    assertThat(run("params", "--model", resource("qwen2.5-1.5b-instruct").toString()))
        .as(err.toString())
        .isZero();
    assertThat(out.toString()).contains("1,543,714,304").contains("counts from config.json");

    assertThat(run("params", "--model", resource("siglip-so400m-patch14-384").toString())).isZero();
    assertThat(out.toString()).contains("428,225,600");
  }

  /** A tiny Qwen2 checkpoint directory as Hugging Face lays it out, with random bf16 weights. */
  private Qwen2Decoder writeCheckpoint(Path model, DType dtype) throws IOException {
    Files.createDirectories(model);
    Files.writeString(
        model.resolve("config.json"),
        "{\"model_type\": \"qwen2\", \"hidden_size\": 32, \"intermediate_size\": 48,"
            + " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
            + " \"vocab_size\": 61, \"rms_norm_eps\": 1e-06, \"rope_theta\": 10000.0,"
            + " \"tie_word_embeddings\": false, \"max_position_embeddings\": 128,"
            + " \"torch_dtype\": \"bfloat16\"}");
    Qwen2Config config = Qwen2Config.read(model.resolve("config.json"));
    Qwen2Decoder decoder = new Qwen2Decoder(cpu, config, false);
    decoder.parameters().initialise(5, 0.3);
    SafetensorsWriter writer = new SafetensorsWriter();
    decoder.parameters().values().forEach((name, tensor) -> writer.add(name, dtype, tensor));
    writer.write(model.resolve("model.safetensors"));
    return decoder;
  }

  @Test
  void logitsRunsACheckpointAndWritesNpy() throws IOException {
    Path model = dir.resolve("tiny");
    Qwen2Decoder reference = writeCheckpoint(model, DType.F32);
    Path npy = dir.resolve("logits.npy");

    int exit =
        run(
            "logits",
            "--model",
            model.toString(),
            "--tokens",
            "3,17,0,60,8",
            "--out",
            npy.toString());

    assertThat(exit).as(err.toString()).isZero();
    assertThat(out.toString()).contains("wrote logits [5, 61]");
    float[] expected = cpu.toHost(reference.logits(new int[] {3, 17, 0, 60, 8}));
    byte[] bytes = Files.readAllBytes(npy);
    assertThat(new String(bytes, 0, 128, java.nio.charset.StandardCharsets.ISO_8859_1))
        .contains("'descr': '<f4'")
        .contains("'shape': (5, 61)");
    ByteBuffer data =
        ByteBuffer.wrap(bytes, 128, bytes.length - 128).order(ByteOrder.LITTLE_ENDIAN);
    float[] actual = new float[expected.length];
    data.asFloatBuffer().get(actual);
    assertThat(data.remaining()).isEqualTo(expected.length * 4);
    assertThat(actual).containsExactly(expected);

    assertThat(run("params", "--model", model.toString())).isZero();
    assertThat(out.toString()).contains("all 27 tensors present");
  }

  @Test
  void visionFeaturesRunsAFullSiglipCheckpointOnAnImage() throws IOException {
    Path model = dir.resolve("siglip");
    Files.createDirectories(model);
    Files.writeString(
        model.resolve("config.json"),
        "{\"model_type\": \"siglip\", \"text_config\": {\"hidden_size\": 16},"
            + " \"vision_config\": {\"hidden_size\": 24, \"intermediate_size\": 40,"
            + " \"num_hidden_layers\": 3, \"num_attention_heads\": 4, \"image_size\": 16,"
            + " \"patch_size\": 4, \"vision_use_head\": false}}");
    dev.tessera.model.config.SiglipVisionConfig config =
        dev.tessera.model.config.SiglipVisionConfig.read(model.resolve("config.json"));
    dev.tessera.model.siglip.SiglipVisionTower tower =
        new dev.tessera.model.siglip.SiglipVisionTower(cpu, config);
    tower.parameters().initialise(8, 0.2);
    SafetensorsWriter writer = new SafetensorsWriter();
    tower.parameters().values().forEach((name, tensor) -> writer.add(name, DType.F32, tensor));
    writer.add(
        "text_model.embeddings.token_embedding.weight", DType.F32, new int[] {2, 3}, new float[6]);
    writer.write(model.resolve("model.safetensors"));
    java.awt.image.BufferedImage picture =
        new java.awt.image.BufferedImage(40, 24, java.awt.image.BufferedImage.TYPE_INT_RGB);
    java.util.Random random = new java.util.Random(2);
    for (int y = 0; y < 24; y++) {
      for (int x = 0; x < 40; x++) {
        picture.setRGB(x, y, random.nextInt(1 << 24));
      }
    }
    Path image = dir.resolve("picture.png");
    javax.imageio.ImageIO.write(picture, "png", image.toFile());
    Path npy = dir.resolve("features.npy");

    int exit =
        run(
            "vision-features",
            "--model",
            model.toString(),
            "--image",
            image.toString(),
            "--out",
            npy.toString());

    assertThat(exit).as(err.toString()).isZero();
    assertThat(out.toString()).contains("wrote features [16, 24] (output of encoder layer 2 of 3)");
    float[] expected =
        cpu.toHost(
            tower.features(
                new dev.tessera.model.siglip.SiglipImageProcessor(16)
                    .batch(cpu, java.util.List.of(javax.imageio.ImageIO.read(image.toFile())))));
    byte[] bytes = Files.readAllBytes(npy);
    float[] actual = new float[expected.length];
    ByteBuffer.wrap(bytes, 128, bytes.length - 128)
        .order(ByteOrder.LITTLE_ENDIAN)
        .asFloatBuffer()
        .get(actual);
    assertThat(actual).containsExactly(expected);

    Path text = Files.writeString(dir.resolve("not-an-image.png"), "hello");
    assertThat(
            run(
                "vision-features",
                "--model",
                model.toString(),
                "--image",
                text.toString(),
                "--out",
                npy.toString()))
        .isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(err.toString()).contains("is not an image");
  }

  @Test
  void badInputGivesClearErrors() throws IOException {
    Path model = dir.resolve("tiny");
    writeCheckpoint(model, DType.BF16);
    assertThat(
            run(
                "logits",
                "--model",
                model.toString(),
                "--tokens",
                "3,61",
                "--out",
                dir.resolve("x.npy").toString()))
        .isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(err.toString()).contains("token 61 (position 1) is outside the vocabulary [0, 61)");

    assertThat(run("params", "--model", dir.resolve("nothing").toString()))
        .isEqualTo(TrainerMain.IO_ERROR);
    assertThat(err.toString()).contains("no config.json");

    Files.delete(model.resolve("model.safetensors"));
    Files.write(model.resolve("model.safetensors"), new byte[] {1, 2, 3});
    assertThat(
            run(
                "logits",
                "--model",
                model.toString(),
                "--tokens",
                "1",
                "--out",
                dir.resolve("y.npy").toString()))
        .isEqualTo(TrainerMain.IO_ERROR);
    assertThat(dir.resolve("y.npy")).doesNotExist();
  }
}
