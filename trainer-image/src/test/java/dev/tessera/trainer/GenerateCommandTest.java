package dev.tessera.trainer;

import static dev.tessera.trainer.TrainerCli.run;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tessera.engine.cpu.CpuBackend;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.text.CaptionLayout;
import dev.tessera.model.text.ChatTemplate;
import dev.tessera.model.text.QwenTokenizer;
import dev.tessera.model.text.QwenTokenizerFiles;
import dev.tessera.model.vlm.Generator;
import dev.tessera.model.vlm.RandomVlm;
import dev.tessera.model.vlm.VisionLanguageModel;
import dev.tessera.trainer.TrainerCli.Outcome;
import dev.tessera.trainer.pretrain.Checkpoints;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tessera-trainer generate} on a small model with the real Qwen vocabulary. */
class GenerateCommandTest {
  @TempDir static Path dir;
  static Path run;
  static Path imageFile;
  static VisionLanguageModel model;

  /** A run directory with one verified checkpoint (4 image tokens), and a picture. */
  @BeforeAll
  static void checkpointAndImage() throws IOException {
    model =
        RandomVlm.of(
            CpuBackend.get(),
            new Qwen2Config(16, 32, 2, 2, 1, 151936, 1e-6, 1e4, true, 512, "float32"),
            2,
            11,
            0.5);
    run = dir.resolve("run");
    new Checkpoints(run).write(10, model::write);
    BufferedImage image = new BufferedImage(40, 30, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    g.setColor(Color.ORANGE);
    g.fillRect(5, 5, 20, 15);
    g.dispose();
    imageFile = dir.resolve("box.png");
    ImageIO.write(image, "png", imageFile.toFile());
  }

  private static String expected(int[] prompt, boolean withImage, int maxTokens)
      throws IOException {
    try (QwenTokenizer qwen = QwenTokenizer.load(QwenTokenizerFiles.tokenizerJson())) {
      int pad = qwen.specialId(QwenTokenizer.END_OF_TEXT);
      int[] ids =
          Generator.generate(
              CpuBackend.get(),
              model,
              prompt,
              withImage ? ImageIO.read(imageFile.toFile()) : null,
              pad,
              new Generator.Settings(maxTokens, 0, 1)
                  .forTokenizer(
                      Set.of(qwen.specialId(QwenTokenizer.IM_END), pad), qwen.vocabularySize()));
      long[] text = new long[ids.length];
      for (int i = 0; i < ids.length; i++) {
        text[i] = ids[i];
      }
      return qwen.decode(text).strip();
    }
  }

  private static List<String> args(String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "generate",
                "--model",
                run.toString(),
                "--tokenizer",
                QwenTokenizerFiles.tokenizerJson().toString()));
    args.addAll(List.of(extra));
    return args;
  }

  @Test
  void captionsAnImageInThePretrainingLayoutFromARunsNewestCheckpoint() throws IOException {
    Outcome outcome =
        run(
            args("--image", imageFile.toString(), "--prompt", "A drawing of", "--max-tokens", "8")
                .toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    int[] prompt;
    try (QwenTokenizer qwen = QwenTokenizer.load(QwenTokenizerFiles.tokenizerJson())) {
      prompt = new CaptionLayout(qwen).prompt("A drawing of");
    }
    String text = expected(prompt, true, 8);
    assertThat(text).isNotBlank();
    assertThat(outcome.out().strip()).isEqualTo(text);
    assertThat(outcome.err())
        .contains("4 image tokens")
        .contains("step-00000010")
        .containsPattern("generate: [1-8] tokens after a prompt of " + prompt.length);
  }

  @Test
  void answersInTheChatLayout() throws IOException {
    Outcome outcome =
        run(
            args("--chat", "--image", imageFile.toString(), "--prompt", "What colour is the box?")
                .toArray(String[]::new));
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    int[] prompt;
    try (QwenTokenizer qwen = QwenTokenizer.load(QwenTokenizerFiles.tokenizerJson())) {
      prompt =
          new ChatTemplate(qwen, ChatTemplate.ImageQuirk.REFERENCE)
              .conversation(
                  List.of(
                      new ChatTemplate.Turn(
                          ChatTemplate.Role.USER, "<image>\nWhat colour is the box?")))
              .ids();
    }
    assertThat(outcome.out().strip()).isEqualTo(expected(prompt, true, 64));
  }

  @Test
  void continuesATextWithoutAnImage() throws IOException {
    Outcome text =
        run(
            "generate",
            "--model",
            new Checkpoints(run).stepDir(10).toString(),
            "--tokenizer",
            QwenTokenizerFiles.tokenizerJson().toString(),
            "--prompt",
            "Once upon a time",
            "--max-tokens",
            "5");
    assertThat(text.exitCode()).as(text.err()).isZero();
    int[] prompt;
    try (QwenTokenizer qwen = QwenTokenizer.load(QwenTokenizerFiles.tokenizerJson())) {
      int[] words = qwen.encodeIds("Once upon a time");
      prompt = new int[words.length + 1];
      prompt[0] = qwen.specialId(QwenTokenizer.BOS);
      System.arraycopy(words, 0, prompt, 1, words.length);
    }
    assertThat(text.out().strip()).isEqualTo(expected(prompt, false, 5));
  }

  @Test
  void badInputIsRefusedByName() throws IOException {
    Outcome nothing = run(args().toArray(String[]::new));
    assertThat(nothing.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(nothing.err()).contains("give --image, --prompt or both");

    Path notAModel = Files.createDirectories(dir.resolve("empty"));
    Outcome noModel =
        run(
            "generate",
            "--model",
            notAModel.toString(),
            "--tokenizer",
            QwenTokenizerFiles.tokenizerJson().toString(),
            "--prompt",
            "hi");
    assertThat(noModel.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(noModel.err()).contains("is neither a model directory");

    Path garbage = dir.resolve("garbage.png");
    Files.write(garbage, new byte[] {1, 2, 3, 4});
    Outcome badImage = run(args("--image", garbage.toString()).toArray(String[]::new));
    assertThat(badImage.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(badImage.err()).contains("is not an image this can decode");

    Outcome notSquare =
        run(args("--image", imageFile.toString(), "--image-tokens", "10").toArray(String[]::new));
    assertThat(notSquare.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(notSquare.err()).contains("--image-tokens must be a square");

    Outcome tooMany =
        run(args("--image", imageFile.toString(), "--image-tokens", "25").toArray(String[]::new));
    assertThat(tooMany.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(tooMany.err()).contains("5x5 image tokens, but the checkpoint's tower has a 4x4");

    Outcome quirk =
        run(args("--chat", "--prompt", "hi", "--image-quirk", "odd").toArray(String[]::new));
    assertThat(quirk.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(quirk.err()).contains("--image-quirk must be reference or fixed, got 'odd'");

    Outcome cold = run(args("--prompt", "hi", "--temperature", "-1").toArray(String[]::new));
    assertThat(cold.exitCode()).isEqualTo(TrainerMain.USAGE_ERROR);
    assertThat(cold.err()).contains("--temperature must be >= 0");
  }
}
