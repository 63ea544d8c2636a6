package dev.tessera.curator.filter;

import java.util.Set;

/** The synthetic generator's defects that the basic filters and dedup are meant to find. */
public final class SyntheticDefects {
  private SyntheticDefects() {}

  /** Defect names as the generator writes them into each sample's JSON. */
  public static final Set<String> DETECTABLE =
      Set.of(
          "corrupt_image",
          "blank_image",
          "tiny_image",
          "exact_duplicate",
          "near_duplicate",
          "empty_caption",
          "garbage_caption",
          "extreme_aspect");
}
