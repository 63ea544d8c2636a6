package dev.tessera.model.config;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The tensors a model's checkpoint must hold, in Hugging Face order, with counts per component. */
public final class ParameterSet {
  private final String model;
  private final Map<String, ParameterSpec> byName;

  ParameterSet(String model, List<ParameterSpec> specs) {
    this.model = model;
    Map<String, ParameterSpec> map = new LinkedHashMap<>();
    for (ParameterSpec spec : specs) {
      if (map.put(spec.name(), spec) != null) {
        throw new IllegalArgumentException("parameter " + spec.name() + " listed twice");
      }
    }
    this.byName = Collections.unmodifiableMap(map);
  }

  /** What these parameters belong to, for messages ("qwen2", "siglip_vision"). */
  public String model() {
    return model;
  }

  public List<ParameterSpec> specs() {
    return List.copyOf(byName.values());
  }

  /** Name → spec, in order. */
  public Map<String, ParameterSpec> byName() {
    return byName;
  }

  /** The spec named {@code name}, or null. */
  public ParameterSpec get(String name) {
    return byName.get(name);
  }

  /** Total number of parameters. */
  public long count() {
    long total = 0;
    for (ParameterSpec spec : byName.values()) {
      total += spec.count();
    }
    return total;
  }

  /** Parameters per component, in order of first appearance. */
  public Map<String, Long> countByComponent() {
    Map<String, Long> counts = new LinkedHashMap<>();
    for (ParameterSpec spec : byName.values()) {
      counts.merge(spec.component(), spec.count(), Long::sum);
    }
    return Collections.unmodifiableMap(counts);
  }

  @Override
  public String toString() {
    return model + ": " + byName.size() + " tensors, " + count() + " parameters";
  }
}
