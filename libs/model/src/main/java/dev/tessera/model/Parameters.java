package dev.tessera.model;

import dev.tessera.engine.Backend;
import dev.tessera.engine.Tensor;
import dev.tessera.model.config.ParameterSet;
import dev.tessera.model.config.ParameterSpec;
import dev.tessera.model.io.CheckpointReader;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A model's parameters and their gradients, each in one flat buffer with a named view per Hugging
 * Face tensor: the optimizer and the gradient norm make one pass over flat memory, data parallelism
 * reduces one buffer, and layers see ordinary tensors.
 */
public final class Parameters {
  private final Tensor values;
  private Tensor grads;
  private final Map<String, Tensor> valueByName = new LinkedHashMap<>();
  private final Map<String, Tensor> gradByName = new LinkedHashMap<>();
  private final ParameterSet set;

  public Parameters(Backend backend, ParameterSet set) {
    this.set = set;
    long total = set.count();
    if (total > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          set.model() + " has " + total + " parameters, more than one CPU buffer holds");
    }
    values = backend.zeros((int) total);
    long offset = 0;
    for (ParameterSpec spec : set.specs()) {
      valueByName.put(spec.name(), values.slice(offset, spec.shape()));
      offset += spec.count();
    }
  }

  /** Gradients are allocated on first use: inference never pays for them. */
  private synchronized void ensureGrads() {
    if (grads != null) {
      return;
    }
    grads = values.backend().zeros(values.intSize());
    long offset = 0;
    for (ParameterSpec spec : set.specs()) {
      gradByName.put(spec.name(), grads.slice(offset, spec.shape()));
      offset += spec.count();
    }
  }

  public ParameterSet set() {
    return set;
  }

  /** The parameter called {@code name} (Hugging Face naming). */
  public Tensor value(String name) {
    Tensor tensor = valueByName.get(name);
    if (tensor == null) {
      throw new IllegalArgumentException("no parameter " + name + " in " + set.model());
    }
    return tensor;
  }

  /** The gradient of the parameter called {@code name}. */
  public Tensor grad(String name) {
    value(name);
    ensureGrads();
    return gradByName.get(name);
  }

  public Map<String, Tensor> values() {
    return Collections.unmodifiableMap(valueByName);
  }

  /** All parameter values as one flat tensor. */
  public Tensor flatValues() {
    return values;
  }

  /** All gradients as one flat tensor. */
  public Tensor flatGrads() {
    ensureGrads();
    return grads;
  }

  public void zeroGrads() {
    ensureGrads();
    grads.backend().zero(grads);
  }

  /** Names in storage order. */
  public List<String> names() {
    return new ArrayList<>(valueByName.keySet());
  }

  /**
   * Fills weights with small random values (normal, std {@code scale}), norm weights with ones and
   * norm biases with zeros, for tests and training from scratch.
   */
  public void initialise(long seed, double scale) {
    SplittableRandom random = new SplittableRandom(seed);
    for (Map.Entry<String, Tensor> entry : valueByName.entrySet()) {
      Tensor tensor = entry.getValue();
      float[] data = new float[tensor.intSize()];
      String name = entry.getKey();
      boolean norm = name.contains("norm") && tensor.rank() == 1;
      for (int i = 0; i < data.length; i++) {
        data[i] = norm ? (name.endsWith("bias") ? 0f : 1f) : (float) (gaussian(random) * scale);
      }
      tensor.backend().copyFromHost(data, tensor);
    }
  }

  /** Loads every parameter from a checkpoint; missing or mis-shaped tensors are errors. */
  public void load(CheckpointReader checkpoint) throws IOException {
    for (Map.Entry<String, Tensor> entry : valueByName.entrySet()) {
      checkpoint.readInto(entry.getKey(), entry.getValue());
    }
  }

  private static double gaussian(SplittableRandom random) {
    double u = 1 - random.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.nextDouble());
  }
}
