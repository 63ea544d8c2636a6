package dev.tessera.data.synth;

import java.util.List;
import java.util.Locale;

/**
 * How large an object is relative to the room its group has. Three well separated classes, so a
 * model can tell them apart; each has a few caption adjectives (medium is often left unsaid).
 */
public enum SizeClass {
  SMALL(0.35, List.of("small", "little")),
  MEDIUM(0.6, List.of("", "medium-sized")),
  LARGE(0.9, List.of("large", "big"));

  private final double fill;
  private final List<String> adjectives;

  SizeClass(double fill, List<String> adjectives) {
    this.fill = fill;
    this.adjectives = adjectives;
  }

  public String word() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Object radius as a fraction of half the room (cell) it is drawn in. */
  double fill() {
    return fill;
  }

  /** Caption adjectives; the empty string means "say nothing about size". */
  List<String> adjectives() {
    return adjectives;
  }
}
