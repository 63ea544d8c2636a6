package dev.tessera.model.config;

import java.util.Arrays;
import java.util.Objects;

/**
 * One expected tensor of a checkpoint.
 *
 * @param component the part of the model it belongs to ("embed_tokens", "layers", "head", ...)
 * @param name the Hugging Face parameter name
 * @param shape dimensions, outermost first
 */
public record ParameterSpec(String component, String name, int[] shape) {

  public ParameterSpec {
    Objects.requireNonNull(component, "component");
    Objects.requireNonNull(name, "name");
    shape = shape.clone();
  }

  @Override
  public int[] shape() {
    return shape.clone();
  }

  /** Number of elements. */
  public long count() {
    long count = 1;
    for (int dim : shape) {
      count *= dim;
    }
    return count;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof ParameterSpec that
        && component.equals(that.component)
        && name.equals(that.name)
        && Arrays.equals(shape, that.shape);
  }

  @Override
  public int hashCode() {
    return Objects.hash(component, name, Arrays.hashCode(shape));
  }

  @Override
  public String toString() {
    return name + Arrays.toString(shape);
  }
}
