package dev.tessera.curator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.packed.PackedSequence;
import dev.tessera.data.packed.PackedShards;
import dev.tessera.data.testing.Python;
import dev.tessera.data.webdataset.Sample;
import dev.tessera.data.webdataset.ShardWriter;
import dev.tessera.model.text.QwenTokenizerFiles;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Images web crawls deliver that the JDK alone cannot decode — WebP, CMYK JPEG — and progressive
 * JPEG, written by Pillow, are packed with their colours intact.
 */
class ImageFormatsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  @Test
  void webpCmykAndProgressiveJpegArePacked() throws Exception {
    String python = Python.with("PIL", "python3-pil");
    Python.run(
        List.of(
            python,
            "-c",
            "from PIL import Image\n"
                + "im = Image.new('RGB', (40, 30), (200, 30, 40))\n"
                + "im.save('"
                + dir.resolve("a.webp")
                + "', 'WEBP', quality=95)\n"
                + "im.convert('CMYK').save('"
                + dir.resolve("b.jpg")
                + "', 'JPEG', quality=95)\n"
                + "im.save('"
                + dir.resolve("c.jpg")
                + "', 'JPEG', quality=95, progressive=True)\n"));
    Path raw = dir.resolve("raw");
    try (ShardWriter writer = new ShardWriter(raw, ShardWriter.Options.samplesPerShard(10))) {
      String[][] members = {{"a", "webp", "a.webp"}, {"b", "jpg", "b.jpg"}, {"c", "jpg", "c.jpg"}};
      for (String[] member : members) {
        writer.write(
            Sample.of(
                member[0],
                Map.of(
                    member[1],
                    Files.readAllBytes(dir.resolve(member[2])),
                    "txt",
                    "A red rectangle.".getBytes(StandardCharsets.UTF_8))));
      }
    }
    Path out = dir.resolve("packed");
    Cli.Outcome outcome =
        Cli.run(
            "pack",
            "--input",
            raw.toString(),
            "--out",
            out.toString(),
            "--tokenizer",
            QwenTokenizerFiles.tokenizerJson().toString(),
            "--seq-len",
            "256",
            "--image-tokens",
            "16",
            "--image-size",
            "16");
    assertThat(outcome.exitCode()).as(outcome.err()).isZero();
    assertThat(JSON.readTree(out.resolve("stats.json").toFile()).path("samples").asInt())
        .isEqualTo(3);
    try (PackedShards packed = PackedShards.open(out)) {
      PackedSequence sequence = packed.read(0);
      for (ByteBuffer image : sequence.images()) {
        byte[] bytes = new byte[image.remaining()];
        image.duplicate().get(bytes);
        BufferedImage decoded = ImageIO.read(new ByteArrayInputStream(bytes));
        assertThat(decoded.getWidth()).isEqualTo(16);
        int rgb = decoded.getRGB(8, 8);
        // Red stays red: CMYK converted, not read as inverted or swapped channels.
        assertThat((rgb >> 16) & 0xff).isBetween(170, 230);
        assertThat((rgb >> 8) & 0xff).isBetween(0, 70);
        assertThat(rgb & 0xff).isBetween(10, 80);
      }
    }
  }
}
