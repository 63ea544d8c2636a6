package dev.tessera.data.synth;

import java.util.Locale;

/** Direction of stripes and gradients. */
public enum Orientation {
  HORIZONTAL,
  VERTICAL,
  DIAGONAL;

  public String word() {
    return name().toLowerCase(Locale.ROOT);
  }
}
