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
