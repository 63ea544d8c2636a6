package dev.tessera.data.uid;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class UidTest {

  private final Random random = new Random(0x5eed_0001L);

  @Test
  void parseAndFormatRoundTripForRandomUids() {
    for (Uid uid : RandomUids.unsorted(random, 2_000)) {
      String text = uid.toString();
      assertThat(text).hasSize(32).matches("[0-9a-f]{32}");
      assertThat(Uid.parse(text)).isEqualTo(uid);
      assertThat(Uid.parse(text.toUpperCase(Locale.ROOT))).isEqualTo(uid);
    }
  }

  @Test
  void halvesAreTheTwoSixteenDigitHalvesReadAsUnsignedNumbers() {
    for (int i = 0; i < 500; i++) {
      BigInteger value = new BigInteger(128, random);
      String text = String.format("%032x", value);
      Uid uid = Uid.parse(text);
      // DataComp: f0 = int(uid[:16], 16), f1 = int(uid[16:32], 16)
      assertThat(Long.toUnsignedString(uid.hi(), 16))
          .isEqualTo(new BigInteger(text.substring(0, 16), 16).toString(16));
      assertThat(Long.toUnsignedString(uid.lo(), 16))
          .isEqualTo(new BigInteger(text.substring(16), 16).toString(16));
    }
  }

  @Test
  void topBitSetSortsAfterTopBitClear() {
    Uid topBitSet = Uid.parse("8000000000000000" + "0000000000000000");
    Uid largestWithTopBitClear = Uid.parse("7fffffffffffffff" + "ffffffffffffffff");
    Uid loTopBitSet = Uid.parse("0000000000000000" + "8000000000000000");
    Uid loTopBitClear = Uid.parse("0000000000000000" + "7fffffffffffffff");

    assertThat(topBitSet).isGreaterThan(largestWithTopBitClear);
    assertThat(loTopBitSet).isGreaterThan(loTopBitClear);
    assertThat(Uid.parse("ffffffffffffffffffffffffffffffff")).isGreaterThan(topBitSet);
  }

  @Test
  void orderMatchesNumericOrderAndTextOrderOfRandomUids() {
    List<Uid> uids = RandomUids.unsorted(random, 3_000);
    List<Uid> byCompareTo = new ArrayList<>(uids);
    byCompareTo.sort(null);
    List<Uid> byText = new ArrayList<>(uids);
    byText.sort(Comparator.comparing(Uid::toString));
    List<Uid> byNumber = new ArrayList<>(uids);
    byNumber.sort(Comparator.comparing(uid -> new BigInteger(uid.toString(), 16)));

    assertThat(byCompareTo).isEqualTo(byText).isEqualTo(byNumber);
    assertThat(byCompareTo.get(0)).isNotEqualTo(uids.get(0)); // the input really was shuffled
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "0123456789abcdef0123456789abcde", // 31 digits
        "0123456789abcdef0123456789abcdef0", // 33 digits
        "0123456789abcdef0123456789abcdeg",
        "+123456789abcdef0123456789abcdef",
        "0x23456789abcdef0123456789abcdef",
        " 123456789abcdef0123456789abcdef",
        "0123456789abcdef-123456789abcdef",
        "0123456789abcdef0123456789abcde\u0661" // Arabic-Indic digit one
      })
  void parseRejectsAnythingButThirtyTwoHexDigits(String text) {
    assertThatThrownBy(() -> Uid.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("32 hex digits")
        .hasMessageContaining("\"" + text + "\"");
  }

  @Test
  void parseRejectsNull() {
    assertThatThrownBy(() -> Uid.parse(null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("null");
  }
}
