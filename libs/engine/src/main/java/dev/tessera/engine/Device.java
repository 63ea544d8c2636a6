package dev.tessera.engine;

/** Where a tensor's memory lives. */
public enum Device {
  CPU,
  CUDA
}
