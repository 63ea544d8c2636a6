package dev.tessera.data.synth;

import java.util.Locale;

/** The textures a background is painted with. */
public enum BackgroundPattern {
  PLAIN,
  GRADIENT,
  STRIPES,
  CHECKER,
  DOTS,
  NOISE;

  public String word() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Whether the pattern uses a second colour. */
  public boolean twoColoured() {
    return this != PLAIN;
  }

  /** Whether the pattern runs in a direction ({@link Orientation}). */
  public boolean oriented() {
    return this == GRADIENT || this == STRIPES;
  }
}
