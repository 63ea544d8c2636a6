package dev.tessera.data.synth;

import java.util.List;

/** Where a group of objects sits: one cell of a 3 × 3 grid over the image. */
public enum Position {
  TOP_LEFT(0, 0, "top left", "in the top left", "in the top left corner", "in the upper left"),
  TOP(1, 0, "top", "at the top", "at the top center", "in the upper middle"),
  TOP_RIGHT(2, 0, "top right", "in the top right", "in the top right corner", "in the upper right"),
  LEFT(0, 1, "left", "on the left", "on the left side", "at the middle left"),
  CENTER(1, 1, "center", "in the center", "in the middle", "at the center"),
  RIGHT(2, 1, "right", "on the right", "on the right side", "at the middle right"),
  BOTTOM_LEFT(
      0, 2, "bottom left", "in the bottom left", "in the bottom left corner", "in the lower left"),
  BOTTOM(1, 2, "bottom", "at the bottom", "at the bottom center", "in the lower middle"),
  BOTTOM_RIGHT(
      2,
      2,
      "bottom right",
      "in the bottom right",
      "in the bottom right corner",
      "in the lower right");

  private final int column;
  private final int row;
  private final String word;
  private final List<String> phrases;

  Position(int column, int row, String word, String... phrases) {
    this.column = column;
    this.row = row;
    this.word = word;
    this.phrases = List.of(phrases);
  }

  /** The ground-truth name recorded in JSON, e.g. {@code "top left"}. */
  public String word() {
    return word;
  }

  int column() {
    return column;
  }

  int row() {
    return row;
  }

  /** Caption phrases that say where the group is, e.g. {@code "in the top left corner"}. */
  List<String> phrases() {
    return phrases;
  }
}
