package dev.tessera.data.synth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CaptionerTest {
  private static final List<String> COUNT_WORDS = List.of("", "", "two", "three", "four", "five");

  @Test
  void captionsDescribeEveryGroupAndTheBackground() {
    for (int i = 0; i < 500; i++) {
      SplittableRandom rng = new SplittableRandom(i);
      Scene scene = SceneSampler.scene(rng);
      // Compared in lower case: the first word is capitalised.
      String caption = Captioner.caption(scene, rng).toLowerCase(Locale.ROOT);
      for (Scene.ObjectGroup group : scene.groups()) {
        String noun = group.count() == 1 ? group.shape().word() : group.shape().plural();
        assertThat(caption).as(scene.toString()).contains(group.colour().word() + " " + noun);
        if (group.count() > 1) {
          assertThat(caption).contains(COUNT_WORDS.get(group.count()) + " ");
        }
      }
      assertThat(caption).contains(scene.background().colour().word());
      if (scene.background().secondColour() != null) {
        assertThat(caption).contains(scene.background().secondColour().word());
      }
      assertThat(caption).endsWith(".");
    }
  }

  @Test
  void captionsUseOnlyTheVocabularyAndVaryInWording() {
    Set<String> used = new HashSet<>();
    Set<String> captionsOfOneScene = new HashSet<>();
    Scene fixed = SceneSampler.scene(new SplittableRandom(42));
    for (int i = 0; i < 500; i++) {
      SplittableRandom rng = new SplittableRandom(1000 + i);
      String caption = Captioner.caption(SceneSampler.scene(rng), rng);
      for (String word : caption.toLowerCase(Locale.ROOT).replaceAll("[.,]", "").split(" ")) {
        used.add(word);
      }
      captionsOfOneScene.add(Captioner.caption(fixed, new SplittableRandom(i)));
    }
    assertThat(Captioner.vocabulary()).containsAll(used);
    assertThat(used.size()).isGreaterThan(Captioner.vocabulary().size() / 2);
    assertThat(captionsOfOneScene).hasSizeGreaterThan(20);
  }

  @Test
  void sameSceneAndRandomStateGiveTheSameCaption() {
    Scene scene = SceneSampler.scene(new SplittableRandom(5));
    assertThat(Captioner.caption(scene, new SplittableRandom(9)))
        .isEqualTo(Captioner.caption(scene, new SplittableRandom(9)));
  }

  @Test
  void captionsStartWithACapital() {
    for (int i = 0; i < 100; i++) {
      SplittableRandom rng = new SplittableRandom(i);
      String caption = Captioner.caption(SceneSampler.scene(rng), rng);
      assertThat(Character.isUpperCase(caption.charAt(0))).as(caption).isTrue();
    }
  }

  @Test
  void singularObjectsTakeTheRightArticle() {
    Scene.ObjectGroup orange =
        new Scene.ObjectGroup(ShapeKind.STAR, Colour.ORANGE, SizeClass.MEDIUM, 1, Position.TOP);
    for (int i = 0; i < 50; i++) {
      String phrase = Captioner.objectPhrase(orange, new SplittableRandom(i));
      assertThat(phrase).doesNotStartWith("a orange").doesNotContain(" a orange");
    }
  }

  @Test
  void garbageCaptionsHaveNoVocabularyWords() {
    for (int i = 0; i < 100; i++) {
      String garbage = Captioner.garbage(new SplittableRandom(i));
      assertThat(garbage).isNotBlank();
      for (String word : garbage.split(" ")) {
        assertThat(Captioner.vocabulary()).doesNotContain(word.toLowerCase(Locale.ROOT));
      }
    }
  }
}
