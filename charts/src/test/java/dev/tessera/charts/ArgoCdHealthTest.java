package dev.tessera.charts;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.luaj.vm2.Globals;
import org.luaj.vm2.LoadState;
import org.luaj.vm2.LuaTable;
import org.luaj.vm2.LuaValue;
import org.luaj.vm2.compiler.LuaC;
import org.luaj.vm2.lib.PackageLib;
import org.luaj.vm2.lib.TableLib;
import org.luaj.vm2.lib.jse.JseBaseLib;

/**
 * The Argo CD health checks in examples/argocd/health: each fixture (a whole custom resource) run
 * through its kind's Lua script must give the status and message that health_test.yaml expects, in
 * LuaJ with only the libraries Argo CD opens, and in the real Lua 5.1 when it is installed.
 */
class ArgoCdHealthTest {
  static final Path ARGOCD = Path.of("..", "examples", "argocd");
  static final Path HEALTH = ARGOCD.resolve("health");
  static final YAMLMapper YAML = new YAMLMapper();
  static final List<String> KINDS = List.of("CurationJob", "PackJob", "PretrainRun", "FinetuneRun");

  /** One row of health_test.yaml, with the fixture it names. */
  record Case(String inputPath, String status, String message, JsonNode resource) {
    String kind() {
      return resource.get("kind").asText();
    }

    @Override
    public String toString() {
      return inputPath;
    }
  }

  static Stream<Arguments> cases() throws IOException {
    return readCases().stream().map(Arguments::of);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void luajGivesTheExpectedHealth(Case c) throws IOException {
    Map<String, String> health = runInLuaj(script(c.kind()), c.resource());

    assertThat(health)
        .as("%s.lua on %s", c.kind(), c.inputPath())
        .isEqualTo(Map.of("status", c.status(), "message", c.message()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void lua51GivesTheSameHealth(Case c, @TempDir Path dir) throws Exception {
    // LuaJ is Lua 5.2 and Argo CD's gopher-lua is 5.1; the real 5.1 catches a script that leans
    // on 5.2. Optional: skipped where lua5.1 is not installed (apt-get install lua5.1).
    String lua = Tools.onPath("lua5.1");
    Assumptions.assumeTrue(lua != null, "lua5.1 is not on the PATH; apt-get install lua5.1");
    Path fixture = dir.resolve("obj.lua");
    Files.writeString(fixture, "return " + luaLiteral(c.resource()) + "\n");
    Path harness = dir.resolve("harness.lua");
    // Sets obj as Argo CD does, runs the check, prints status and message on two lines.
    Files.writeString(
        harness,
        "obj = dofile(arg[1])\n"
            + "local hs = dofile(arg[2])\n"
            + "io.write(hs.status, \"\\n\", hs.message, \"\\n\")\n");
    String script = HEALTH.resolve(c.kind() + ".lua").toAbsolutePath().toString();

    String output = Tools.run(dir, lua, harness.toString(), fixture.toString(), script);

    assertThat(output).isEqualTo(c.status() + "\n" + c.message() + "\n");
  }

  @Test
  void everyKindIsTestedInEveryState() throws IOException {
    Map<String, Set<String>> casesByKind = new TreeMap<>();
    for (Case c : readCases()) {
      String file = Path.of(c.inputPath()).getFileName().toString();
      String prefix = c.kind().toLowerCase() + "-";
      assertThat(file).as("fixture named after its kind").startsWith(prefix);
      casesByKind
          .computeIfAbsent(c.kind(), k -> new TreeSet<>())
          .add(file.substring(prefix.length(), file.length() - ".yaml".length()));
    }
    assertThat(casesByKind.keySet()).containsExactlyInAnyOrderElementsOf(KINDS);
    casesByKind.forEach(
        (kind, cases) ->
            assertThat(cases)
                .as(kind)
                .contains(
                    "no-status",
                    "stale-generation",
                    "waiting",
                    "running",
                    "failed",
                    "suspended",
                    "complete"));
    // And every fixture on disk is used.
    try (Stream<Path> files = Files.list(HEALTH.resolve("testdata"))) {
      assertThat(files.map(p -> "testdata/" + p.getFileName()))
          .containsExactlyInAnyOrderElementsOf(readCases().stream().map(Case::inputPath).toList());
    }
  }

  @Test
  void fixturesAreResourcesTheCrdsAccept() throws IOException {
    // Fixtures are examples people read: their spec and status must be what the API serves, so
    // each is checked against its kind's generated CRD schema (fields, types, required, enums).
    for (Case c : readCases()) {
      JsonNode r = c.resource();
      assertThat(r.get("apiVersion").asText()).as(c.inputPath()).isEqualTo("tessera.dev/v1alpha1");
      assertThat(r.at("/metadata/name").asText()).as(c.inputPath()).isNotEmpty();
      assertThat(r.at("/metadata/namespace").asText()).as(c.inputPath()).isNotEmpty();
      assertThat(r.at("/metadata/generation").isIntegralNumber()).as(c.inputPath()).isTrue();
      Path crd = Path.of("..", "crds", c.kind().toLowerCase() + "s.tessera.dev-v1.yml");
      JsonNode schema = null;
      for (JsonNode version : YAML.readTree(crd.toFile()).at("/spec/versions")) {
        if (version.get("name").asText().equals("v1alpha1")) {
          schema = version.at("/schema/openAPIV3Schema/properties");
        }
      }
      assertThat(schema).as("v1alpha1 schema in %s", crd).isNotNull();
      List<String> problems = new ArrayList<>();
      conform(r.get("spec"), schema.get("spec"), "spec", problems);
      if (r.has("status")) {
        conform(r.get("status"), schema.get("status"), "status", problems);
      }
      assertThat(problems).as(c.inputPath()).isEmpty();
    }
  }

  @Test
  void scriptsUseBaseLuaOnly() throws IOException {
    // Argo CD opens no string, math or io library unless useOpenLibs is set; a call into one
    // fails at run time, maybe only on the branch no fixture takes.
    Pattern library = Pattern.compile("\\b(string|math|io|debug|coroutine|utf8)\\s*\\.");
    Pattern method = Pattern.compile("[\\w)\\]\"]:\\w+\\s*\\(");
    for (String kind : KINDS) {
      int number = 0;
      for (String line : script(kind).split("\n")) {
        number++;
        String code = line.replaceFirst("--.*$", "");
        assertThat(library.matcher(code).find()).as("%s.lua:%d %s", kind, number, line).isFalse();
        assertThat(method.matcher(code).find()).as("%s.lua:%d %s", kind, number, line).isFalse();
      }
    }
  }

  @Test
  void argocdConfigMapCarriesTheScriptsVerbatim() throws IOException {
    JsonNode configMap = YAML.readTree(ARGOCD.resolve("argocd-cm.yaml").toFile());

    assertThat(configMap.get("kind").asText()).isEqualTo("ConfigMap");
    assertThat(configMap.at("/metadata/name").asText()).isEqualTo("argocd-cm");
    List<String> keys = configMap.get("data").properties().stream().map(Map.Entry::getKey).toList();
    assertThat(keys)
        .containsExactlyInAnyOrderElementsOf(
            KINDS.stream().map(k -> "resource.customizations.health.tessera.dev_" + k).toList());
    for (String kind : KINDS) {
      assertThat(configMap.at("/data/resource.customizations.health.tessera.dev_" + kind).asText())
          .as(
              "argocd-cm.yaml's %s script equals health/%s.lua (run update-argocd-cm.sh)",
              kind, kind)
          .isEqualTo(script(kind));
    }
  }

  @Test
  void applicationsInstallTheChartAndThePipeline() throws IOException {
    JsonNode operator = YAML.readTree(ARGOCD.resolve("application-operator.yaml").toFile());
    assertThat(operator.get("kind").asText()).isEqualTo("Application");
    String chartPath = operator.at("/spec/source/path").asText();
    assertThat(chartPath).isEqualTo("charts/tessera");
    assertThat(Path.of("..", chartPath, "Chart.yaml")).isRegularFile();
    // CRDs are too large for client-side apply's last-applied annotation.
    assertThat(texts(operator.at("/spec/syncPolicy/syncOptions"))).contains("ServerSideApply=true");

    JsonNode pipeline = YAML.readTree(ARGOCD.resolve("application-pipeline.yaml").toFile());
    assertThat(pipeline.get("kind").asText()).isEqualTo("Application");
    assertThat(pipeline.at("/spec/source/path").asText()).startsWith("examples/");
    assertThat(pipeline.at("/spec/source/repoURL").asText())
        .isEqualTo(operator.at("/spec/source/repoURL").asText());
  }

  // --- helpers -------------------------------------------------------------------------------

  static List<Case> readCases() throws IOException {
    List<Case> cases = new ArrayList<>();
    for (JsonNode test : YAML.readTree(HEALTH.resolve("health_test.yaml").toFile()).get("tests")) {
      String inputPath = test.get("inputPath").asText();
      cases.add(
          new Case(
              inputPath,
              test.at("/healthStatus/status").asText(),
              test.at("/healthStatus/message").asText(),
              YAML.readTree(HEALTH.resolve(inputPath).toFile())));
    }
    assertThat(cases).isNotEmpty();
    return cases;
  }

  /** The structural part of OpenAPI validation that a CRD schema asks of a value. */
  static void conform(JsonNode value, JsonNode schema, String path, List<String> problems) {
    if (schema.path("x-kubernetes-preserve-unknown-fields").asBoolean(false)
        || schema.path("x-kubernetes-int-or-string").asBoolean(false)) {
      return;
    }
    if (schema.has("enum") && !texts(schema.get("enum")).contains(value.asText())) {
      problems.add(path + ": " + value + " is not one of " + schema.get("enum"));
    }
    switch (schema.path("type").asText()) {
      case "object" -> {
        if (!value.isObject()) {
          problems.add(path + ": not an object");
          return;
        }
        for (JsonNode required : schema.path("required")) {
          if (!value.has(required.asText())) {
            problems.add(path + "." + required.asText() + ": required");
          }
        }
        value
            .properties()
            .forEach(
                e -> {
                  JsonNode field = schema.path("properties").get(e.getKey());
                  if (field == null && schema.path("additionalProperties").isObject()) {
                    field = schema.get("additionalProperties");
                  }
                  if (field == null) {
                    problems.add(path + "." + e.getKey() + ": not in the schema");
                  } else {
                    conform(e.getValue(), field, path + "." + e.getKey(), problems);
                  }
                });
      }
      case "array" -> {
        if (!value.isArray()) {
          problems.add(path + ": not an array");
          return;
        }
        for (int i = 0; i < value.size(); i++) {
          conform(value.get(i), schema.get("items"), path + "[" + i + "]", problems);
        }
      }
      case "string" -> check(value.isTextual(), path, "a string", problems);
      case "integer" -> check(value.isIntegralNumber(), path, "an integer", problems);
      case "number" -> check(value.isNumber(), path, "a number", problems);
      case "boolean" -> check(value.isBoolean(), path, "a boolean", problems);
      default -> {}
    }
  }

  private static void check(boolean ok, String path, String what, List<String> problems) {
    if (!ok) {
      problems.add(path + ": not " + what);
    }
  }

  static String script(String kind) throws IOException {
    return Files.readString(HEALTH.resolve(kind + ".lua"));
  }

  /** Runs a check as Argo CD does: global obj, the base, package and table libraries only. */
  static Map<String, String> runInLuaj(String script, JsonNode resource) {
    Globals globals = new Globals();
    globals.load(new JseBaseLib());
    globals.load(new PackageLib());
    globals.load(new TableLib());
    LoadState.install(globals);
    LuaC.install(globals);
    globals.set("obj", toLua(resource));

    LuaValue hs = globals.load(script, "health.lua").call();

    return Map.of("status", hs.get("status").tojstring(), "message", hs.get("message").tojstring());
  }

  /** A JSON tree as Argo CD hands it to Lua: objects and 1-based arrays as tables. */
  static LuaValue toLua(JsonNode node) {
    if (node.isObject()) {
      LuaTable table = new LuaTable();
      node.properties().forEach(e -> table.set(e.getKey(), toLua(e.getValue())));
      return table;
    }
    if (node.isArray()) {
      LuaTable table = new LuaTable();
      for (int i = 0; i < node.size(); i++) {
        table.set(i + 1, toLua(node.get(i)));
      }
      return table;
    }
    if (node.isNumber()) {
      // Argo CD decodes every JSON number as a float64.
      return LuaValue.valueOf(node.asDouble());
    }
    if (node.isBoolean()) {
      return LuaValue.valueOf(node.asBoolean());
    }
    if (node.isNull()) {
      return LuaValue.NIL;
    }
    return LuaValue.valueOf(node.asText());
  }

  /** The same tree as Lua source, for the real interpreter. */
  static String luaLiteral(JsonNode node) {
    if (node.isObject()) {
      StringBuilder out = new StringBuilder("{");
      node.properties()
          .forEach(
              e ->
                  out.append('[')
                      .append(luaString(e.getKey()))
                      .append("]=")
                      .append(luaLiteral(e.getValue()))
                      .append(','));
      return out.append('}').toString();
    }
    if (node.isArray()) {
      StringBuilder out = new StringBuilder("{");
      node.forEach(element -> out.append(luaLiteral(element)).append(','));
      return out.append('}').toString();
    }
    if (node.isNumber()) {
      return node.isIntegralNumber() ? node.asText() : Double.toString(node.asDouble());
    }
    if (node.isBoolean()) {
      return Boolean.toString(node.asBoolean());
    }
    if (node.isNull()) {
      return "nil";
    }
    return luaString(node.asText());
  }

  static String luaString(String text) {
    StringBuilder out = new StringBuilder("\"");
    for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if (c == '"' || c == '\\') {
        out.append('\\').append((char) c);
      } else if (c < 0x20 || c >= 0x7f) {
        out.append('\\').append(c); // decimal escape: Lua 5.1 has no \x
      } else {
        out.append((char) c);
      }
    }
    return out.append('"').toString();
  }

  static List<String> texts(JsonNode array) {
    List<String> texts = new ArrayList<>();
    array.forEach(n -> texts.add(n.asText()));
    return texts;
  }
}
