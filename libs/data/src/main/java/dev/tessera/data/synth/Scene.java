package dev.tessera.data.synth;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What a synthetic image shows: a textured background and one to three groups of identical objects,
 * each group in its own cell of a 3 × 3 grid. Captions and images are both rendered from this, so
 * it is the ground truth recorded in each sample's JSON.
 *
 * @param background the background texture
 * @param groups the object groups, in drawing order; their positions are distinct
 */
public record Scene(Background background, List<ObjectGroup> groups) {

  /**
   * A background texture.
   *
   * @param pattern the texture
   * @param colour the main colour
   * @param secondColour the second colour, {@code null} for {@link BackgroundPattern#PLAIN}
   * @param orientation direction of stripes and gradients, otherwise {@code null}
   */
  public record Background(
      BackgroundPattern pattern, Colour colour, Colour secondColour, Orientation orientation) {
    public Background {
      Objects.requireNonNull(pattern, "pattern");
      Objects.requireNonNull(colour, "colour");
      if (pattern.twoColoured() != (secondColour != null)) {
        throw new IllegalArgumentException(
            pattern.word() + " background with second colour " + secondColour);
      }
      if (pattern.oriented() != (orientation != null)) {
        throw new IllegalArgumentException(
            pattern.word() + " background with orientation " + orientation);
      }
    }

    /** Whether {@code c} is one of the background's colours. */
    public boolean uses(Colour c) {
      return c == colour || c == secondColour;
    }

    Map<String, Object> toJson() {
      Map<String, Object> json = new LinkedHashMap<>();
      json.put("pattern", pattern.word());
      json.put("colour", colour.word());
      json.put("secondColour", secondColour == null ? null : secondColour.word());
      json.put("orientation", orientation == null ? null : orientation.word());
      return json;
    }
  }

  /**
   * {@code count} objects of one shape, colour and size, drawn together in one grid cell.
   *
   * @param shape the shape
   * @param colour the fill colour
   * @param size the size class
   * @param count how many objects, 1 to {@link #MAX_COUNT}
   * @param position the grid cell
   */
  public record ObjectGroup(
      ShapeKind shape, Colour colour, SizeClass size, int count, Position position) {
    public static final int MAX_COUNT = 5;

    public ObjectGroup {
      Objects.requireNonNull(shape, "shape");
      Objects.requireNonNull(colour, "colour");
      Objects.requireNonNull(size, "size");
      Objects.requireNonNull(position, "position");
      if (count < 1 || count > MAX_COUNT) {
        throw new IllegalArgumentException(
            "object count must be 1.." + MAX_COUNT + ", got " + count);
      }
    }

    Map<String, Object> toJson() {
      Map<String, Object> json = new LinkedHashMap<>();
      json.put("shape", shape.word());
      json.put("colour", colour.word());
      json.put("size", size.word());
      json.put("count", count);
      json.put("position", position.word());
      return json;
    }
  }

  public Scene {
    Objects.requireNonNull(background, "background");
    groups = List.copyOf(groups);
    if (groups.isEmpty()) {
      throw new IllegalArgumentException("a scene needs at least one object group");
    }
  }

  /** This scene with group {@code index} replaced. */
  public Scene withGroup(int index, ObjectGroup group) {
    List<ObjectGroup> changed = new ArrayList<>(groups);
    changed.set(index, group);
    return new Scene(background, changed);
  }

  /** The scene as JSON-ready maps and lists, in a fixed key order. */
  public Map<String, Object> toJson() {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("background", background.toJson());
    List<Object> objects = new ArrayList<>();
    for (ObjectGroup group : groups) {
      objects.add(group.toJson());
    }
    json.put("objects", objects);
    return json;
  }
}
