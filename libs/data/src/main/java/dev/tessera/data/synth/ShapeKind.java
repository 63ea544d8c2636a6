package dev.tessera.data.synth;

import java.util.Locale;

/** The shapes a scene's objects take. */
public enum ShapeKind {
  CIRCLE,
  SQUARE,
  TRIANGLE,
  DIAMOND,
  STAR,
  HEXAGON;

  /** The singular caption word, e.g. {@code "circle"}. */
  public String word() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The plural caption word, e.g. {@code "circles"}. */
  public String plural() {
    return word() + "s";
  }
}
