package dev.tessera.api.v1alpha1;

import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The CRDs' OpenAPI bounds in Java: the {@code @Min}, {@code @Max} and {@code @Pattern} of the spec
 * types, which the CRD generator turns into {@code minimum}, {@code maximum} and {@code pattern}
 * and the API server checks before a resource is stored. The local runner has no API server, so
 * without this it would hand {@code seqLength: -5} to a worker that {@code kubectl apply} never
 * reaches. Read from the same annotations, so the two cannot drift apart.
 */
public final class SchemaValidation {
  private SchemaValidation() {}

  /** The bounds broken anywhere in {@code value}, a spec object at {@code path}. */
  public static List<String> problems(Object value, String path) {
    List<String> problems = new ArrayList<>();
    walk(value, path, problems);
    return problems;
  }

  private static void walk(Object value, String path, List<String> problems) {
    if (value == null) {
      return;
    }
    if (value instanceof List<?> list) {
      for (int i = 0; i < list.size(); i++) {
        walk(list.get(i), path + "[" + i + "]", problems);
      }
      return;
    }
    if (value instanceof Map<?, ?> map) {
      map.forEach((key, item) -> walk(item, path + "." + key, problems));
      return;
    }
    if (!value.getClass().getPackageName().equals(SchemaValidation.class.getPackageName())) {
      return; // strings, numbers, and Kubernetes' own types (checked by their own schema)
    }
    for (Field field : properties(value.getClass())) {
      Object fieldValue;
      try {
        fieldValue = field.get(value);
      } catch (IllegalAccessException e) {
        throw new IllegalStateException("cannot read " + path + "." + field.getName(), e);
      }
      String at = path + "." + field.getName();
      check(field, fieldValue, at, problems);
      walk(fieldValue, at, problems);
    }
  }

  /** The fields a spec type's schema has properties for: its public instance fields. */
  public static List<Field> properties(Class<?> type) {
    return Arrays.stream(type.getFields())
        .filter(field -> !Modifier.isStatic(field.getModifiers()))
        .toList();
  }

  private static void check(Field field, Object value, String at, List<String> problems) {
    if (value instanceof Number number) {
      double x = number.doubleValue();
      Min min = field.getAnnotation(Min.class);
      if (min != null && (min.inclusive() ? x < min.value() : x <= min.value())) {
        problems.add(outside(at, min.inclusive() ? ">=" : ">", min.value(), number));
      }
      Max max = field.getAnnotation(Max.class);
      if (max != null && (max.inclusive() ? x > max.value() : x >= max.value())) {
        problems.add(outside(at, max.inclusive() ? "<=" : "<", max.value(), number));
      }
    }
    Pattern pattern = field.getAnnotation(Pattern.class);
    if (pattern != null
        && value instanceof String text
        && !java.util.regex.Pattern.compile(pattern.value()).matcher(text).find()) {
      problems.add(at + " must match " + pattern.value() + ", got '" + text + "'");
    }
  }

  /** e.g. {@code spec.seqLength must be >= 64, got -5}. */
  private static String outside(String at, String relation, double bound, Number value) {
    String limit = bound == Math.rint(bound) ? String.valueOf((long) bound) : String.valueOf(bound);
    return at + " must be " + relation + " " + limit + ", got " + value;
  }
}
