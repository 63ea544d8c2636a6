package dev.tessera.data.synth;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/** Draws random scenes, and the "different scene" a mismatched caption describes. */
final class SceneSampler {
  private static final BackgroundPattern[] PATTERNS = BackgroundPattern.values();
  private static final double[] PATTERN_WEIGHTS = {0.30, 0.15, 0.15, 0.13, 0.13, 0.14};
  private static final double[] GROUP_COUNT_WEIGHTS = {0.50, 0.35, 0.15};
  private static final double[] OBJECT_COUNT_WEIGHTS = {0.45, 0.20, 0.15, 0.10, 0.10};

  private SceneSampler() {}

  static Scene scene(SplittableRandom rng) {
    Scene.Background background = background(rng);
    int groupCount = 1 + weighted(GROUP_COUNT_WEIGHTS, rng);
    List<Position> positions = new ArrayList<>(Arrays.asList(Position.values()));
    shuffle(positions, rng);
    List<Scene.ObjectGroup> groups = new ArrayList<>();
    for (int i = 0; i < groupCount; i++) {
      groups.add(
          new Scene.ObjectGroup(
              Seeds.pick(ShapeKind.values(), rng),
              objectColour(background, null, rng),
              Seeds.pick(SizeClass.values(), rng),
              1 + weighted(OBJECT_COUNT_WEIGHTS, rng),
              positions.get(i)));
    }
    return new Scene(background, groups);
  }

  private static Scene.Background background(SplittableRandom rng) {
    BackgroundPattern pattern = PATTERNS[weighted(PATTERN_WEIGHTS, rng)];
    Colour colour = Seeds.pick(Colour.values(), rng);
    Colour second = null;
    if (pattern.twoColoured()) {
      do {
        second = Seeds.pick(Colour.values(), rng);
      } while (second == colour);
    }
    Orientation orientation = pattern.oriented() ? Seeds.pick(Orientation.values(), rng) : null;
    return new Scene.Background(pattern, colour, second, orientation);
  }

  /** A colour that stands out from the background and differs from {@code not}. */
  private static Colour objectColour(
      Scene.Background background, Colour not, SplittableRandom rng) {
    Colour colour;
    do {
      colour = Seeds.pick(Colour.values(), rng);
    } while (background.uses(colour) || colour == not);
    return colour;
  }

  /**
   * The scene with one group changed in shape, colour or count, so a caption of the result is wrong
   * about the original in a way a model could detect.
   */
  static Mismatch mismatch(Scene scene, SplittableRandom rng) {
    int index = rng.nextInt(scene.groups().size());
    Scene.ObjectGroup group = scene.groups().get(index);
    Scene.ObjectGroup changed;
    String attribute;
    String from;
    String to;
    switch (rng.nextInt(3)) {
      case 0 -> {
        ShapeKind shape;
        do {
          shape = Seeds.pick(ShapeKind.values(), rng);
        } while (shape == group.shape());
        changed =
            new Scene.ObjectGroup(
                shape, group.colour(), group.size(), group.count(), group.position());
        attribute = "shape";
        from = group.shape().word();
        to = shape.word();
      }
      case 1 -> {
        Colour colour = objectColour(scene.background(), group.colour(), rng);
        changed =
            new Scene.ObjectGroup(
                group.shape(), colour, group.size(), group.count(), group.position());
        attribute = "colour";
        from = group.colour().word();
        to = colour.word();
      }
      default -> {
        // Counts of two or more are always spelled as number words ("one" has synonyms).
        int count;
        do {
          count = 2 + rng.nextInt(Scene.ObjectGroup.MAX_COUNT - 1);
        } while (count == group.count());
        changed =
            new Scene.ObjectGroup(
                group.shape(), group.colour(), group.size(), count, group.position());
        attribute = "count";
        from = Integer.toString(group.count());
        to = Integer.toString(count);
      }
    }
    return new Mismatch(scene.withGroup(index, changed), index, attribute, from, to);
  }

  /** A changed scene and what was changed. */
  record Mismatch(Scene scene, int group, String attribute, String from, String to) {}

  static int weighted(double[] weights, SplittableRandom rng) {
    double u = rng.nextDouble();
    for (int i = 0; i < weights.length - 1; i++) {
      u -= weights[i];
      if (u < 0) {
        return i;
      }
    }
    return weights.length - 1;
  }

  static <T> void shuffle(List<T> list, SplittableRandom rng) {
    for (int i = list.size() - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      T swap = list.get(i);
      list.set(i, list.get(j));
      list.set(j, swap);
    }
  }
}
