package dev.tessera.data.packing;

import static dev.tessera.data.packing.PackingAlgorithm.BEST_FIT_DECREASING;
import static dev.tessera.data.packing.PackingAlgorithm.FIRST_FIT_DECREASING;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PackingAlgorithmTest {

  @Test
  void parsesShortAndFullNamesInAnyCase() {
    assertThat(PackingAlgorithm.parse("ffd")).isEqualTo(FIRST_FIT_DECREASING);
    assertThat(PackingAlgorithm.parse("FFD")).isEqualTo(FIRST_FIT_DECREASING);
    assertThat(PackingAlgorithm.parse("Bfd")).isEqualTo(BEST_FIT_DECREASING);
    assertThat(PackingAlgorithm.parse(" bfd ")).isEqualTo(BEST_FIT_DECREASING);
    assertThat(PackingAlgorithm.parse("first-fit-decreasing")).isEqualTo(FIRST_FIT_DECREASING);
    assertThat(PackingAlgorithm.parse("BEST_FIT_DECREASING")).isEqualTo(BEST_FIT_DECREASING);
    assertThat(PackingAlgorithm.parse("fill")).isEqualTo(PackingAlgorithm.EXACT_FILL);
    assertThat(PackingAlgorithm.parse("exact-fill")).isEqualTo(PackingAlgorithm.EXACT_FILL);
    for (PackingAlgorithm algorithm : PackingAlgorithm.values()) {
      assertThat(PackingAlgorithm.parse(algorithm.shortName())).isEqualTo(algorithm);
    }
  }

  @Test
  void rejectsOtherNamesSayingWhatIsAccepted() {
    for (String name : new String[] {"", "ff", "ffdx", "first fit", "nfd"}) {
      assertThatThrownBy(() -> PackingAlgorithm.parse(name))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("unknown packing algorithm '" + name + "': expected ffd, bfd or fill");
    }
    assertThatThrownBy(() -> PackingAlgorithm.parse(null)).isInstanceOf(NullPointerException.class);
  }
}
