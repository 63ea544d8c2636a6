package dev.tessera.data.webdataset;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardListTest {

  @TempDir Path dir;

  @Test
  void expandsZeroPaddedRangesLikeDataComp() {
    List<String> names = ShardList.expand("raw/{00000..01302}.tar");
    assertThat(names).hasSize(1303);
    assertThat(names.get(0)).isEqualTo("raw/00000.tar");
    assertThat(names.get(1302)).isEqualTo("raw/01302.tar");
    assertThat(names.get(17)).isEqualTo("raw/00017.tar");
  }

  @Test
  void expandsAlternativesUnpaddedAndDescendingRangesAndProducts() {
    assertThat(ShardList.expand("{a,b}/{1..3}.tar"))
        .containsExactly("a/1.tar", "a/2.tar", "a/3.tar", "b/1.tar", "b/2.tar", "b/3.tar");
    assertThat(ShardList.expand("s{3..1}")).containsExactly("s3", "s2", "s1");
    assertThat(ShardList.expand("{x,{07..09}}.tar"))
        .containsExactly("x.tar", "07.tar", "08.tar", "09.tar");
    assertThat(ShardList.expand("plain.tar")).containsExactly("plain.tar");
  }

  @Test
  void malformedPatternsNameTheProblem() {
    assertThatThrownBy(() -> ShardList.expand("raw/{0..3.tar"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unbalanced '{'");
    assertThatThrownBy(() -> ShardList.expand("raw/0..3}.tar"))
        .hasMessageContaining("unbalanced '}'");
    assertThatThrownBy(() -> ShardList.expand("raw/{a..z}.tar"))
        .hasMessageContaining("needs two integers");
    assertThatThrownBy(() -> ShardList.expand("raw/{single}.tar"))
        .hasMessageContaining("neither a,b nor lo..hi");
    assertThatThrownBy(() -> ShardList.expand("{0..99999}/{0..99999}"))
        .hasMessageContaining("expands to more than");
  }

  @Test
  void resolvesPatternsDirectoriesAndFiles() throws IOException {
    for (int i = 0; i < 3; i++) {
      Files.write(dir.resolve(String.format("%05d.tar", i)), new byte[] {1});
    }
    Files.write(dir.resolve("00003.tar.partial"), new byte[] {1});
    Files.write(dir.resolve("notes.txt"), new byte[] {1});

    assertThat(ShardList.resolve(dir, "{00000..00002}.tar"))
        .containsExactly(
            dir.resolve("00000.tar"), dir.resolve("00001.tar"), dir.resolve("00002.tar"));
    assertThat(ShardList.resolve(dir, "."))
        .extracting(p -> p.getFileName().toString())
        .containsExactly("00000.tar", "00001.tar", "00002.tar");
    assertThat(ShardList.resolve(dir.getParent(), dir.getFileName() + "/00001.tar"))
        .containsExactly(dir.resolve("00001.tar"));
  }

  @Test
  void missingShardsAreAnErrorUnlessAllowed() throws IOException {
    Files.write(dir.resolve("00000.tar"), new byte[] {1});
    Files.write(dir.resolve("00002.tar"), new byte[] {1});

    assertThatThrownBy(() -> ShardList.resolve(dir, "{00000..00003}.tar"))
        .isInstanceOf(NoSuchFileException.class)
        .hasMessageContaining("2 of 4 shards do not exist")
        .hasMessageContaining("00001.tar");
    assertThat(ShardList.resolve(dir, "{00000..00003}.tar", true))
        .containsExactly(dir.resolve("00000.tar"), dir.resolve("00002.tar"));
    assertThatThrownBy(() -> ShardList.resolve(dir, "nothing-here"))
        .isInstanceOf(NoSuchFileException.class)
        .hasMessageContaining("no such shard");
    Path empty = Files.createDirectory(dir.resolve("empty"));
    assertThatThrownBy(() -> ShardList.resolve(empty, "."))
        .hasMessageContaining("holds no .tar shards");
  }
}
