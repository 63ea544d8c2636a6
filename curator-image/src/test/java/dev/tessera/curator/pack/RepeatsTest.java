package dev.tessera.curator.pack;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class RepeatsTest {

  @Test
  void aRepeatOfTwoAndAHalfIsTwoFullRoundsAndAHalfOne() {
    List<int[]> rounds = Repeats.rounds(new int[] {10, 4}, List.of(2.5, 1.0), List.of("a", "b"));

    assertThat(rounds).hasSize(3);
    assertThat(rounds.get(0)).isEqualTo(IntStream.range(0, 14).toArray());
    assertThat(rounds.get(1)).isEqualTo(IntStream.range(0, 10).toArray());
    assertThat(rounds.get(2)).hasSize(5).isSorted();
    assertThat(Arrays.stream(rounds.get(2)).allMatch(sample -> sample < 10)).isTrue();
    assertThat(rounds.get(2)).isEqualTo(Repeats.share(10, 0.5, "a"));
  }

  @Test
  void aShareIsExactPerShardAndDependsOnlyOnTheShard() {
    for (double share : new double[] {0.01, 0.3, 0.5, 0.99}) {
      int[] chosen = Repeats.share(1000, share, "00017.tar");
      assertThat(chosen).hasSize((int) Math.round(share * 1000)).doesNotHaveDuplicates().isSorted();
      assertThat(chosen).isEqualTo(Repeats.share(1000, share, "00017.tar"));
    }
    // A smaller share is a subset of a larger one: the same ranking, cut earlier.
    assertThat(Repeats.share(1000, 0.5, "x")).contains(Repeats.share(1000, 0.3, "x"));
    assertThat(Repeats.share(1000, 0.5, "x")).isNotEqualTo(Repeats.share(1000, 0.5, "y"));
    // Not the first half: the choice is spread over the shard.
    int[] half = Repeats.share(1000, 0.5, "x");
    assertThat(Arrays.stream(half).filter(position -> position < 500).count())
        .isBetween(200L, 300L);

    List<int[]> rounds =
        Repeats.rounds(new int[] {3, 1000}, List.of(0.3, 0.3), List.of("tiny", "x"));
    assertThat(rounds).hasSize(1);
    assertThat(rounds.get(0)).hasSize(1 + 300);
  }

  @Test
  void roundsThatWouldHoldNothingAreLeftOut() {
    assertThat(Repeats.rounds(new int[] {1, 1}, List.of(0.2, 0.4), List.of("a", "b"))).isEmpty();
    assertThat(Repeats.once(List.of(1.0, 1.0))).isTrue();
    assertThat(Repeats.once(List.of(1.0, 1.5))).isFalse();
  }
}
