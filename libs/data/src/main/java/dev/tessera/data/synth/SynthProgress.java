package dev.tessera.data.synth;

/** Told after each sample is written; called from the writing thread only. */
@FunctionalInterface
public interface SynthProgress {
  SynthProgress NONE = (done, total) -> {};

  void written(long done, long total);
}
