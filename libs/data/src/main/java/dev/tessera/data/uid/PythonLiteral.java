package dev.tessera.data.uid;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses the small subset of Python literal syntax that a {@code .npy} header uses: dicts, lists,
 * tuples, quoted strings, integers and {@code True}/{@code False}/{@code None}. numpy writes the
 * header with {@code repr()} and reads it with {@code ast.literal_eval}, so quoting and whitespace
 * may vary between writers; a parser rather than a fixed template accepts all of them.
 *
 * <p>Dicts become {@link Map}, lists and tuples become {@link List} (tuples are wrapped in {@link
 * Tuple} so that {@code (3,)} and {@code [3]} stay distinguishable), integers {@link Long}.
 */
final class PythonLiteral {

  /** A Python tuple. */
  record Tuple(List<Object> items) {}

  /** Marker for Python's {@code None}, since maps and lists here hold no Java nulls. */
  enum None {
    NONE
  }

  private final String text;
  private int pos;

  private PythonLiteral(String text) {
    this.text = text;
  }

  /**
   * Parses {@code text}, which must hold one literal and nothing else but whitespace.
   *
   * @throws IllegalArgumentException describing where the text stops being a literal
   */
  static Object parse(String text) {
    PythonLiteral parser = new PythonLiteral(text);
    Object value = parser.value();
    parser.skipWhitespace();
    if (parser.pos != text.length()) {
      throw parser.error("unexpected text after the literal");
    }
    return value;
  }

  private Object value() {
    skipWhitespace();
    if (pos >= text.length()) {
      throw error("unexpected end of text");
    }
    char c = text.charAt(pos);
    switch (c) {
      case '{':
        return dict();
      case '[':
        return Collections.unmodifiableList(sequence('[', ']'));
      case '(':
        return tupleOrParenthesized();
      case '\'':
      case '"':
        return string();
      default:
        if (c == '-' || c == '+' || isAsciiDigit(c)) {
          return integer();
        }
        return keyword();
    }
  }

  private Map<Object, Object> dict() {
    Map<Object, Object> map = new LinkedHashMap<>();
    pos++; // '{'
    while (true) {
      skipWhitespace();
      if (peek() == '}') {
        pos++;
        return Collections.unmodifiableMap(map);
      }
      Object key = value();
      skipWhitespace();
      expect(':');
      Object value = value();
      if (map.put(key, value) != null) {
        throw error("duplicate key " + key);
      }
      skipWhitespace();
      if (peek() == ',') {
        pos++;
      } else if (peek() != '}') {
        throw error("expected ',' or '}'");
      }
    }
  }

  private Object tupleOrParenthesized() {
    int start = pos;
    List<Object> items = sequence('(', ')');
    // "(5)" is just 5 in Python; only a comma makes a one-element tuple.
    boolean hasComma = text.substring(start, pos).indexOf(',') >= 0;
    if (items.size() == 1 && !hasComma) {
      return items.get(0);
    }
    return new Tuple(Collections.unmodifiableList(items));
  }

  private List<Object> sequence(char open, char close) {
    List<Object> items = new ArrayList<>();
    pos++; // open
    while (true) {
      skipWhitespace();
      if (peek() == close) {
        pos++;
        return items;
      }
      items.add(value());
      skipWhitespace();
      if (peek() == ',') {
        pos++;
      } else if (peek() != close) {
        throw error("expected ',' or '" + close + "' in a " + (open == '[' ? "list" : "tuple"));
      }
    }
  }

  private String string() {
    char quote = text.charAt(pos++);
    StringBuilder out = new StringBuilder();
    while (pos < text.length()) {
      char c = text.charAt(pos++);
      if (c == quote) {
        return out.toString();
      }
      if (c == '\\') {
        if (pos >= text.length()) {
          break;
        }
        out.append(text.charAt(pos++));
      } else {
        out.append(c);
      }
    }
    throw error("unterminated string");
  }

  private Long integer() {
    int start = pos;
    if (peek() == '-' || peek() == '+') {
      pos++;
    }
    while (pos < text.length() && isAsciiDigit(text.charAt(pos))) {
      pos++;
    }
    String digits = text.substring(start, pos);
    // Headers written by Python 2 may carry a long suffix, e.g. "(3L,)".
    if (pos < text.length() && (peek() == 'L' || peek() == 'l')) {
      pos++;
    }
    try {
      return Long.parseLong(digits);
    } catch (NumberFormatException e) {
      throw error("bad integer \"" + digits + "\"");
    }
  }

  private Object keyword() {
    for (String word : List.of("True", "False", "None")) {
      if (text.startsWith(word, pos)) {
        pos += word.length();
        return switch (word) {
          case "True" -> Boolean.TRUE;
          case "False" -> Boolean.FALSE;
          default -> None.NONE;
        };
      }
    }
    throw error("unexpected character '" + text.charAt(pos) + "'");
  }

  private static boolean isAsciiDigit(char c) {
    return c >= '0' && c <= '9';
  }

  private void expect(char c) {
    if (peek() != c) {
      throw error("expected '" + c + "'");
    }
    pos++;
  }

  private char peek() {
    if (pos >= text.length()) {
      throw error("unexpected end of text");
    }
    return text.charAt(pos);
  }

  private void skipWhitespace() {
    while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
      pos++;
    }
  }

  private IllegalArgumentException error(String problem) {
    return new IllegalArgumentException(problem + " at offset " + pos + " of " + quoted(text));
  }

  /** Renders a parsed value back in Python syntax, for error messages. */
  static String repr(Object value) {
    if (value instanceof Tuple tuple) {
      List<Object> items = tuple.items();
      String inner = String.join(", ", items.stream().map(PythonLiteral::repr).toList());
      return "(" + inner + (items.size() == 1 ? ",)" : ")");
    }
    if (value instanceof List<?> list) {
      return "[" + String.join(", ", list.stream().map(PythonLiteral::repr).toList()) + "]";
    }
    if (value instanceof Map<?, ?> map) {
      return "{"
          + String.join(
              ", ",
              map.entrySet().stream()
                  .map(e -> repr(e.getKey()) + ": " + repr(e.getValue()))
                  .toList())
          + "}";
    }
    if (value instanceof String string) {
      return "'" + string + "'";
    }
    if (value instanceof Boolean bool) {
      return bool ? "True" : "False";
    }
    if (value == None.NONE) {
      return "None";
    }
    return String.valueOf(value);
  }

  static String quoted(String text) {
    return "\"" + text.strip().replace("\n", "\\n") + "\"";
  }
}
