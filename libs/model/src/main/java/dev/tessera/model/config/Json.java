package dev.tessera.model.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Field access for Hugging Face {@code config.json} files: HF defaults for absent fields. */
final class Json {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private Json() {}

  static JsonNode read(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IOException(file + ": no such config file");
    }
    return parse(Files.readString(file), file.toString());
  }

  static JsonNode parse(String json, String source) throws IOException {
    JsonNode root;
    try {
      root = MAPPER.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IOException(source + ": not valid JSON: " + e.getOriginalMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IOException(source + ": not a JSON object");
    }
    return root;
  }

  static int integer(JsonNode node, String field, int fallback) {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return fallback;
    }
    if (!value.isIntegralNumber() || !value.canConvertToInt()) {
      throw new IllegalArgumentException(field + " is not an int: " + value);
    }
    return value.intValue();
  }

  static double number(JsonNode node, String field, double fallback) {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return fallback;
    }
    if (!value.isNumber()) {
      throw new IllegalArgumentException(field + " is not a number: " + value);
    }
    return value.doubleValue();
  }

  static boolean bool(JsonNode node, String field, boolean fallback) {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return fallback;
    }
    if (!value.isBoolean()) {
      throw new IllegalArgumentException(field + " is not a boolean: " + value);
    }
    return value.booleanValue();
  }

  static String text(JsonNode node, String field, String fallback) {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return fallback;
    }
    if (!value.isTextual()) {
      throw new IllegalArgumentException(field + " is not a string: " + value);
    }
    return value.textValue();
  }

  static void requirePositive(String field, long value) {
    if (value <= 0) {
      throw new IllegalArgumentException(field + " must be positive, got " + value);
    }
  }

  /** Throws unless {@code divisor} (the field {@code divisorField}) divides {@code value}. */
  static void requireDivides(String divisorField, int divisor, String valueField, int value) {
    if (value % divisor != 0) {
      throw new IllegalArgumentException(
          divisorField + " " + divisor + " does not divide " + valueField + " " + value);
    }
  }
}
