package dev.tessera.data.synth;

import java.util.Locale;

/** The colours scenes are drawn with; one plain English word each, so captions stay learnable. */
public enum Colour {
  RED(0xDC2828),
  GREEN(0x28AA3C),
  BLUE(0x2850DC),
  YELLOW(0xF5D728),
  ORANGE(0xF58C1E),
  PURPLE(0x8C3CB4),
  PINK(0xF596BE),
  BROWN(0x825028),
  BLACK(0x141414),
  WHITE(0xF5F5F5),
  GRAY(0x808080),
  CYAN(0x28C8D2);

  private final int rgb;

  Colour(int rgb) {
    this.rgb = rgb;
  }

  /** The caption word, e.g. {@code "red"}. */
  public String word() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** 0xRRGGBB. */
  public int rgb() {
    return rgb;
  }
}
