package dev.tessera.data.uid;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Reading .npy uid lists: every format version numpy writes, and files that must be refused. */
class UidListReadingTest {

  @TempDir Path dir;
  private final Random random = new Random(0x5eed_0003L);
  private final List<Uid> uids = RandomUids.sortedDistinct(random, 37);

  @ParameterizedTest
  @ValueSource(strings = {"numpy-save-10.npy", "numpy-v2-10.npy", "numpy-v3-10.npy"})
  void readsEveryFormatVersionNumpyWrites(String fixture) throws IOException {
    Path file = dir.resolve(fixture);
    Files.write(file, NpyFiles.resource(fixture));

    try (UidIndex index = UidIndex.open(file)) {
      assertThat(index.stream().toList()).isEqualTo(NpyFiles.fixtureUids());
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "{\"descr\":[(\"f0\",\"<u8\"),(\"f1\",\"<u8\")],\"fortran_order\":False,\"shape\":(%d,)}",
        "{ 'shape' : ( %d , ) , 'fortran_order' : False , 'descr' : [ ( 'f0' , '<u8' ) ,"
            + " ( 'f1' , '<u8' ) , ] }",
        "{'descr': [('f0', '<u8'), ('f1', '<u8')], 'fortran_order': False, 'shape': (%dL,), }"
      })
  void acceptsHeaderSpellingsThatPythonReadsTheSame(String header) throws IOException {
    for (int major = 1; major <= 3; major++) {
      Path file = write(NpyFiles.file(major, String.format(header, uids.size()), records()));

      try (UidIndex index = UidIndex.open(file)) {
        assertThat(index.stream().toList()).isEqualTo(uids);
      }
    }
  }

  @Test
  void refusesAFileWithoutTheNumpyMagic() throws IOException {
    byte[] bytes = NpyFiles.file(1, NpyFiles.dict(NpyFiles.GOOD_DESCR, uids.size()), records());
    bytes[1] = 'n';

    assertRefused(write(bytes), "not a .npy file");
    assertRefused(
        write("just text, no numpy here".getBytes(java.nio.charset.StandardCharsets.UTF_8)),
        "magic");
    assertRefused(write(new byte[0]), "magic");
  }

  @Test
  void refusesAnUnknownFormatVersion() throws IOException {
    byte[] bytes = NpyFiles.file(2, NpyFiles.dict(NpyFiles.GOOD_DESCR, uids.size()), records());
    bytes[6] = 4;

    assertRefused(write(bytes), "format version 4.0");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "[('f0', '>u8'), ('f1', '>u8')]", // big-endian
        "[('f0', '<i8'), ('f1', '<i8')]", // signed
        "[('f0', '<u4'), ('f1', '<u4')]",
        "'<u8'",
        "[('f0', '<u8'), ('f1', '<u8'), ('f2', '<u8')]",
        "[('hi', '<u8'), ('lo', '<u8')]",
        "[('f0', '<u8', (2,))]",
        "'|V16'"
      })
  void refusesAnyOtherDtype(String descr) throws IOException {
    Path file = write(NpyFiles.file(1, NpyFiles.dict(descr, uids.size()), records()));

    assertRefused(file, "dtype " + descr.replace("\"", "'"));
  }

  @Test
  void refusesTwoDimensionalAndScalarShapes() throws IOException {
    String twoD =
        "{'descr': " + NpyFiles.GOOD_DESCR + ", 'fortran_order': False, 'shape': (37, 1), }";
    String scalar = "{'descr': " + NpyFiles.GOOD_DESCR + ", 'fortran_order': False, 'shape': (), }";
    String notATuple =
        "{'descr': " + NpyFiles.GOOD_DESCR + ", 'fortran_order': False, 'shape': (37), }";

    assertRefused(write(NpyFiles.file(1, twoD, records())), "shape (37, 1)");
    assertRefused(write(NpyFiles.file(1, scalar, records())), "shape ()");
    assertRefused(write(NpyFiles.file(1, notATuple, records())), "one-dimensional");
  }

  @Test
  void refusesFortranOrderAndMissingOrExtraKeys() throws IOException {
    String fortran =
        "{'descr': " + NpyFiles.GOOD_DESCR + ", 'fortran_order': True, 'shape': (37,), }";
    String missing = "{'descr': " + NpyFiles.GOOD_DESCR + ", 'shape': (37,), }";
    String extra =
        "{'descr': "
            + NpyFiles.GOOD_DESCR
            + ", 'fortran_order': False, 'shape': (37,), 'extra': 1}";

    assertRefused(write(NpyFiles.file(1, fortran, records())), "fortran_order True");
    assertRefused(write(NpyFiles.file(1, missing, records())), "not a dict of exactly");
    assertRefused(write(NpyFiles.file(1, extra, records())), "not a dict of exactly");
  }

  @Test
  void refusesAnUnparsableHeader() throws IOException {
    String broken = "{'descr': " + NpyFiles.GOOD_DESCR + ", 'fortran_order': False, 'shape': (37,";

    assertRefused(write(NpyFiles.file(1, broken, records())), "unreadable .npy header");
  }

  @Test
  void refusesTruncatedData() throws IOException {
    byte[] whole = NpyFiles.file(1, NpyFiles.dict(NpyFiles.GOOD_DESCR, uids.size()), records());
    int cut = 128 + 16 * 20 + random.nextInt(16);

    assertRefused(
        write(Arrays.copyOf(whole, cut)),
        "truncated: the header announces 37 uids (592 bytes) but only " + (cut - 128));
  }

  @Test
  void refusesATruncatedHeader() throws IOException {
    byte[] whole = NpyFiles.file(1, NpyFiles.dict(NpyFiles.GOOD_DESCR, uids.size()), records());

    assertRefused(write(Arrays.copyOf(whole, 9)), "truncated inside the .npy preamble");
    assertRefused(write(Arrays.copyOf(whole, 70)), "the .npy header needs 128 bytes");
  }

  @Test
  void refusesBytesAfterTheAnnouncedUids() throws IOException {
    byte[] whole = NpyFiles.file(1, NpyFiles.dict(NpyFiles.GOOD_DESCR, uids.size()), records());

    assertRefused(write(Arrays.copyOf(whole, whole.length + 16)), "16 unexpected bytes");
  }

  private byte[] records() {
    return NpyFiles.records(uids);
  }

  private Path write(byte[] bytes) throws IOException {
    Path file = Files.createTempFile(dir, "list", ".npy");
    Files.write(file, bytes);
    return file;
  }

  private static void assertRefused(Path file, String problem) {
    assertThatThrownBy(() -> UidIndex.open(file).close())
        .isInstanceOf(IOException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining(problem);
  }
}
