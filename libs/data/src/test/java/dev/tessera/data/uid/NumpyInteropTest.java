package dev.tessera.data.uid;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Our files against numpy's own: same bytes as {@code np.save}, and {@code np.load} reads ours. */
class NumpyInteropTest {

  // How DataComp builds a uid list from hex strings (baselines/apply_filter.py and friends).
  private static final String NP_SAVE =
      String.join(
          "\n",
          "import sys, numpy as np",
          "uids = sorted(open(sys.argv[1]).read().split())",
          "array = np.array([(int(u[:16], 16), int(u[16:32], 16)) for u in uids], np.dtype('u8,u8'))",
          "np.save(sys.argv[2], array)");

  private static final String NP_LOAD =
      String.join(
          "\n",
          "import sys, numpy as np",
          "array = np.load(sys.argv[1])",
          "assert array.dtype == np.dtype('u8,u8'), array.dtype",
          "assert array.ndim == 1, array.shape",
          "print(len(array))",
          "for f0, f1 in array: print('%016x%016x' % (f0, f1))");

  private static final String NP_SAVE_VERSION =
      String.join(
          "\n",
          "import sys, numpy as np, numpy.lib.format as fmt",
          "uids = open(sys.argv[1]).read().split()",
          "array = np.array([(int(u[:16], 16), int(u[16:32], 16)) for u in uids], np.dtype('u8,u8'))",
          "for major in (1, 2, 3):",
          "    with open(sys.argv[2] + '-v%d.npy' % major, 'wb') as out:",
          "        fmt.write_array(out, array, version=(major, 0))");

  @TempDir Path dir;
  private final Random random = new Random(0x5eed_0005L);

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 3, 4_099})
  void ourBytesEqualNpSaveOfTheSameUids(int count) throws Exception {
    List<Uid> uids = shuffled(RandomUids.sortedDistinct(random, count));
    Path hex = writeHex(uids);
    Path numpyFile = dir.resolve("numpy.npy");
    Numpy.run(NP_SAVE, hex, numpyFile);

    Path ours = dir.resolve("ours.npy");
    UidListWriter.write(ours, uids);

    assertThat(Files.readAllBytes(ours)).isEqualTo(Files.readAllBytes(numpyFile));
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 3, 4_099})
  void npLoadReadsOurFilesWithTheSameUidsAndDtype(int count) throws Exception {
    List<Uid> uids = RandomUids.sortedDistinct(random, count);
    Path ours = dir.resolve("ours.npy");
    try (UidListWriter writer = UidListWriter.create(ours)) { // header patched at finish
      for (Uid uid : uids) {
        writer.append(uid.hi(), uid.lo());
      }
      writer.finish();
    }

    List<String> lines = Numpy.run(NP_LOAD, ours).lines().toList();

    assertThat(lines.get(0)).isEqualTo(Integer.toString(count));
    assertThat(lines.subList(1, lines.size())).isEqualTo(uids.stream().map(Uid::toString).toList());
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 5, 1_001})
  void weReadEveryFormatVersionNumpyWrites(int count) throws Exception {
    List<Uid> uids = RandomUids.sortedDistinct(random, count);
    Path hex = writeHex(uids);
    Numpy.run(NP_SAVE_VERSION, hex, dir.resolve("list"));

    for (int major = 1; major <= 3; major++) {
      try (UidIndex index = new UidIndex(dir.resolve("list-v" + major + ".npy"), 256)) {
        assertThat(index.stream().toList()).as("version %d.0", major).isEqualTo(uids);
        index.verifySorted();
      }
    }
  }

  private List<Uid> shuffled(List<Uid> uids) {
    List<Uid> copy = new ArrayList<>(uids);
    Collections.shuffle(copy, random);
    return copy;
  }

  private Path writeHex(List<Uid> uids) throws IOException {
    Path hex = Files.createTempFile(dir, "uids", ".txt");
    StringBuilder text = new StringBuilder();
    uids.forEach(uid -> text.append(uid).append('\n'));
    Files.writeString(hex, text, StandardCharsets.US_ASCII);
    return hex;
  }
}
