package dev.tessera.data.synth;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * Describes a {@link Scene} in English. The caption is a function of the scene and a template
 * choice only: every object group is named with its count, size, colour, shape and position, and
 * the background with its pattern and colours; synonyms, sentence frames and the order of groups
 * vary. The vocabulary is small (under 100 words) so a small model can learn it.
 */
public final class Captioner {
  private static final List<String> NUMBER_WORDS =
      List.of("", "one", "two", "three", "four", "five");
  private static final List<String> SINGULAR_ARTICLES = List.of("a", "one", "a single");

  /** Every word of the templates and phrases below, besides the attribute words of the enums. */
  private static final String TEMPLATE_WORDS =
      "a an one single two three four five and with of on in at the to from is are there "
          + "picture image shows illustration simple drawing this contains background backdrop "
          + "plain solid flat against over gradient fading stripes striped checkerboard checkered "
          + "checker pattern dots polka covered noisy grainy speckled texture top bottom left right "
          + "center middle upper lower corner side medium-sized";

  private Captioner() {}

  /**
   * The lower-case words captions are made of (a caption split on spaces, with punctuation and
   * capitals removed, uses only these): useful for tokenizers and for telling captions from noise.
   */
  public static Set<String> vocabulary() {
    Set<String> words = new TreeSet<>(Arrays.asList(TEMPLATE_WORDS.split(" ")));
    for (Colour colour : Colour.values()) {
      words.add(colour.word());
    }
    for (ShapeKind shape : ShapeKind.values()) {
      words.add(shape.word());
      words.add(shape.plural());
    }
    for (SizeClass size : SizeClass.values()) {
      size.adjectives().stream().filter(a -> !a.isEmpty()).forEach(words::add);
    }
    for (Orientation orientation : Orientation.values()) {
      words.add(orientation.word());
    }
    return Collections.unmodifiableSet(words);
  }

  /** A caption for {@code scene}, with wording drawn from {@code rng}. */
  public static String caption(Scene scene, SplittableRandom rng) {
    List<Scene.ObjectGroup> order = new ArrayList<>(scene.groups());
    SceneSampler.shuffle(order, rng);
    List<String> parts = new ArrayList<>();
    for (Scene.ObjectGroup group : order) {
      parts.add(objectPhrase(group, rng) + " " + Seeds.pick(group.position().phrases(), rng));
    }
    String objects = join(parts, rng);
    String verb = order.get(0).count() > 1 ? "are" : "is";
    String on = backgroundPhrase(scene.background(), rng);
    String backgroundIs = backgroundDescription(scene.background(), rng);
    String sentence =
        switch (rng.nextInt(10)) {
          case 0 -> objects + " " + on + ".";
          case 1 -> "A picture of " + objects + " " + on + ".";
          case 2 -> "There " + verb + " " + objects + " " + on + ".";
          case 3 -> "The image shows " + objects + " " + on + ".";
          case 4 -> "An illustration of " + objects + " " + on + ".";
          case 5 -> objects + ". The background is " + backgroundIs + ".";
          case 6 -> "The background is " + backgroundIs + ", with " + objects + ".";
          case 7 -> "A simple drawing of " + objects + " " + on + ".";
          case 8 -> on + ", there " + verb + " " + objects + ".";
          default -> "This image contains " + objects + " " + on + ".";
        };
    return capitalise(sentence);
  }

  /** E.g. "three small red circles", "a big blue star", "an orange square". */
  static String objectPhrase(Scene.ObjectGroup group, SplittableRandom rng) {
    String size = Seeds.pick(group.size().adjectives(), rng);
    String noun = group.count() == 1 ? group.shape().word() : group.shape().plural();
    String rest = (size.isEmpty() ? "" : size + " ") + group.colour().word() + " " + noun;
    if (group.count() > 1) {
      return NUMBER_WORDS.get(group.count()) + " " + rest;
    }
    String article = Seeds.pick(SINGULAR_ARTICLES, rng);
    if (article.equals("a") && startsWithVowel(rest)) {
      article = "an";
    }
    return article + " " + rest;
  }

  /** A prepositional phrase, e.g. "on a red and white checkerboard". */
  static String backgroundPhrase(Scene.Background background, SplittableRandom rng) {
    String c1 = background.colour().word();
    String c2 = background.secondColour() == null ? "" : background.secondColour().word();
    String o = background.orientation() == null ? "" : background.orientation().word();
    List<String> options =
        switch (background.pattern()) {
          case PLAIN ->
              List.of(
                  "on a plain " + c1 + " background",
                  "against a " + c1 + " background",
                  "on a solid " + c1 + " backdrop",
                  "over a flat " + c1 + " background");
          case GRADIENT ->
              List.of(
                  "on a " + c1 + " to " + c2 + " gradient",
                  "on a background fading from " + c1 + " to " + c2,
                  "against a " + o + " " + c1 + " and " + c2 + " gradient");
          case STRIPES ->
              List.of(
                  "on a background of " + o + " " + c1 + " and " + c2 + " stripes",
                  "on " + o + " " + c1 + " and " + c2 + " stripes",
                  "against a " + c1 + " and " + c2 + " " + o + " striped background");
          case CHECKER ->
              List.of(
                  "on a " + c1 + " and " + c2 + " checkerboard",
                  "on a " + c1 + " and " + c2 + " checkered background",
                  "against a checker pattern of " + c1 + " and " + c2);
          case DOTS ->
              List.of(
                  "on a " + c1 + " background with " + c2 + " dots",
                  "on a " + c1 + " background covered in " + c2 + " polka dots",
                  "against " + c2 + " dots on " + c1);
          case NOISE ->
              List.of(
                  "on a noisy " + c1 + " and " + c2 + " background",
                  "on a grainy " + c1 + " and " + c2 + " texture",
                  "against a speckled " + c1 + " and " + c2 + " background");
        };
    return Seeds.pick(options, rng);
  }

  /** A noun phrase completing "The background is ...". */
  static String backgroundDescription(Scene.Background background, SplittableRandom rng) {
    String c1 = background.colour().word();
    String c2 = background.secondColour() == null ? "" : background.secondColour().word();
    String o = background.orientation() == null ? "" : background.orientation().word();
    List<String> options =
        switch (background.pattern()) {
          case PLAIN -> List.of("plain " + c1, "a solid " + c1);
          case GRADIENT -> List.of("a " + c1 + " to " + c2 + " gradient");
          case STRIPES ->
              List.of(o + " " + c1 + " and " + c2 + " stripes", "striped " + c1 + " and " + c2);
          case CHECKER ->
              List.of("a " + c1 + " and " + c2 + " checkerboard", "checkered " + c1 + " and " + c2);
          case DOTS -> List.of(c1 + " with " + c2 + " dots");
          case NOISE ->
              List.of("noisy " + c1 + " and " + c2, "a grainy " + c1 + " and " + c2 + " texture");
        };
    return Seeds.pick(options, rng);
  }

  /** Random letters, digits and symbols in word-like runs that are not words (few vowels). */
  static String garbage(SplittableRandom rng) {
    String alphabet = "bcdfghjklmnpqrstvwxzBCDFGKQXZ0123456789#$%&*+=@~^_";
    int words = 3 + rng.nextInt(8);
    StringBuilder out = new StringBuilder();
    for (int w = 0; w < words; w++) {
      if (w > 0) {
        out.append(' ');
      }
      int length = 2 + rng.nextInt(8);
      for (int i = 0; i < length; i++) {
        out.append(alphabet.charAt(rng.nextInt(alphabet.length())));
      }
    }
    return out.toString();
  }

  private static String join(List<String> parts, SplittableRandom rng) {
    if (parts.size() == 1) {
      return parts.get(0);
    }
    String last = parts.get(parts.size() - 1);
    String head = String.join(", ", parts.subList(0, parts.size() - 1));
    boolean oxfordComma = parts.size() > 2 && rng.nextBoolean();
    return head + (oxfordComma ? ", and " : " and ") + last;
  }

  private static boolean startsWithVowel(String text) {
    return "aeiou".indexOf(Character.toLowerCase(text.charAt(0))) >= 0;
  }

  private static String capitalise(String sentence) {
    return sentence.substring(0, 1).toUpperCase(Locale.ROOT) + sentence.substring(1);
  }
}
