package dev.tessera.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.tessera.api.v1alpha1.Api;
import dev.tessera.api.v1alpha1.CurationJob;
import dev.tessera.api.v1alpha1.FinetuneRun;
import dev.tessera.api.v1alpha1.InputRef;
import dev.tessera.api.v1alpha1.PackJob;
import dev.tessera.api.v1alpha1.PretrainRun;
import dev.tessera.api.v1alpha1.TesseraStatus;
import io.fabric8.kubernetes.client.CustomResource;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The resources of a directory or file, validated as the CRDs would validate them and ordered so
 * that each stage runs after the stages it reads from: those it names ({@code input.packJob: x})
 * and those whose output its input path lies in.
 */
public final class Pipeline {
  static final Map<String, Class<? extends CustomResource<?, TesseraStatus>>> KINDS =
      Map.of(
          "CurationJob", CurationJob.class,
          "PackJob", PackJob.class,
          "PretrainRun", PretrainRun.class,
          "FinetuneRun", FinetuneRun.class);

  private static final ObjectMapper STRICT =
      JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

  private final List<Stage> stages;

  /** The stages whose output each stage reads. */
  private final Map<Stage, List<Stage>> readsFrom = new HashMap<>();

  private Pipeline(List<Stage> stages) {
    this.stages = List.copyOf(stages);
    Map<String, Stage> byId = new LinkedHashMap<>();
    for (Stage s : stages) {
      byId.put(s.id(), s);
    }
    for (Stage s : stages) {
      readsFrom.put(s, dependencies(s, byId, stages));
    }
  }

  /**
   * The stages {@code names} name (by {@code name}, or {@code Kind/name} where two kinds share it)
   * and every stage that reads, directly or through others, what they write: in the order they run.
   *
   * @throws PipelineError naming a name that is not in the pipeline, or one that two kinds share
   */
  public List<Stage> withDependents(Collection<String> names) {
    Set<Stage> chosen = new HashSet<>();
    for (String name : names) {
      List<Stage> matching =
          stages.stream().filter(s -> s.id().equals(name) || s.name().equals(name)).toList();
      if (matching.isEmpty()) {
        throw new PipelineError("--rerun " + name + ": no resource of that name in the pipeline");
      }
      if (matching.size() > 1) {
        throw new PipelineError(
            "--rerun "
                + name
                + ": "
                + matching.size()
                + " resources have that name; say which as Kind/name ("
                + String.join(", ", matching.stream().map(Stage::id).toList())
                + ")");
      }
      chosen.add(matching.get(0));
    }
    List<Stage> affected = new ArrayList<>();
    for (Stage s : stages) {
      // Run order: every stage a stage reads from comes before it.
      if (chosen.contains(s) || readsFrom.get(s).stream().anyMatch(affected::contains)) {
        affected.add(s);
      }
    }
    return affected;
  }

  /** The stages in the order they run. */
  public List<Stage> stages() {
    return stages;
  }

  /**
   * Reads every {@code .yaml}/{@code .yml} file under {@code path} (or the file itself), in name
   * order; documents of other API groups are skipped with a note on {@code log}.
   *
   * @throws PipelineError naming the file and field of the first problem
   */
  public static Pipeline load(Path path, PrintStream log) throws IOException {
    if (!Files.exists(path)) {
      throw new PipelineError(path + ": no such file or directory");
    }
    List<Path> files;
    if (Files.isDirectory(path)) {
      try (Stream<Path> walk = Files.walk(path)) {
        files =
            walk.filter(f -> f.toString().endsWith(".yaml") || f.toString().endsWith(".yml"))
                .sorted()
                .toList();
      }
    } else {
      files = List.of(path);
    }
    List<Stage> stages = new ArrayList<>();
    for (Path file : files) {
      stages.addAll(read(file, log));
    }
    if (stages.isEmpty()) {
      throw new PipelineError(path + ": no Tessera resources (apiVersion " + Api.API_VERSION + ")");
    }
    return new Pipeline(order(stages));
  }

  static List<Stage> read(Path file, PrintStream log) throws IOException {
    List<JsonNode> documents;
    try (var parser = new YAMLFactory().createParser(file.toFile())) {
      documents = new YAMLMapper().readValues(parser, JsonNode.class).readAll();
    } catch (JsonProcessingException e) {
      var at = e.getLocation();
      throw new PipelineError(
          file
              + (at == null ? "" : ":" + at.getLineNr())
              + ": not valid YAML: "
              + e.getOriginalMessage());
    }
    List<Stage> stages = new ArrayList<>();
    for (int i = 0; i < documents.size(); i++) {
      JsonNode doc = documents.get(i);
      if (doc == null || doc.isNull() || doc.isMissingNode()) {
        continue;
      }
      String where = file + ": document " + (i + 1);
      if (!doc.isObject()) {
        throw new PipelineError(where + ": not a resource (a mapping with apiVersion and kind)");
      }
      String apiVersion = doc.path("apiVersion").asText("");
      String kind = doc.path("kind").asText("");
      if (!apiVersion.startsWith(Api.GROUP + "/")) {
        log.printf("  skipping %s %s in %s: not a Tessera resource%n", apiVersion, kind, file);
        continue;
      }
      if (!apiVersion.equals(Api.API_VERSION)) {
        throw new PipelineError(
            where + ": apiVersion: " + apiVersion + " is not served (use " + Api.API_VERSION + ")");
      }
      var type = KINDS.get(kind);
      if (type == null) {
        throw new PipelineError(
            where
                + ": kind: unknown kind '"
                + kind
                + "' (expected CurationJob, PackJob, PretrainRun or FinetuneRun)");
      }
      String name = doc.path("metadata").path("name").asText("");
      if (name.isEmpty()) {
        throw new PipelineError(where + ": metadata.name: required");
      }
      CustomResource<?, TesseraStatus> resource;
      try {
        resource = STRICT.treeToValue(doc, type);
      } catch (JsonMappingException e) {
        throw new PipelineError(
            file + ": " + kind + " " + name + ": " + path(e) + ": " + problem(e));
      }
      Stage stage = new Stage(file, resource);
      List<String> problems = stage.problems();
      if (!problems.isEmpty()) {
        throw new PipelineError(stage.where() + ": " + String.join("; ", problems));
      }
      stages.add(stage);
    }
    return stages;
  }

  /** Kahn's order over the dependencies, in file order where free; a cycle is named. */
  static List<Stage> order(List<Stage> stages) {
    Map<String, Stage> byId = new LinkedHashMap<>();
    for (Stage s : stages) {
      Stage before = byId.put(s.id(), s);
      if (before != null) {
        throw new PipelineError(
            s.where() + ": metadata.name: defined twice (also in " + before.file() + ")");
      }
    }
    Map<Stage, List<Stage>> after = new LinkedHashMap<>();
    for (Stage s : stages) {
      after.put(s, dependencies(s, byId, stages));
    }
    List<Stage> ordered = new ArrayList<>();
    List<Stage> left = new ArrayList<>(stages);
    while (!left.isEmpty()) {
      Stage next = null;
      for (Stage s : left) {
        if (ordered.containsAll(after.get(s))) {
          next = s;
          break;
        }
      }
      if (next == null) {
        throw new PipelineError(left.get(0).file() + ": reference cycle: " + cycle(left, after));
      }
      ordered.add(next);
      left.remove(next);
    }
    return ordered;
  }

  private static List<Stage> dependencies(Stage s, Map<String, Stage> byId, List<Stage> all) {
    List<Stage> deps = new ArrayList<>();
    List<InputRef> inputs = s.inputs();
    for (int i = 0; i < inputs.size(); i++) {
      InputRef ref = inputs.get(i);
      if (ref != null && ref.kind() != null) {
        Stage named = byId.get(ref.kind() + "/" + ref.name());
        if (named == null) {
          throw new PipelineError(
              s.where()
                  + ": "
                  + s.inputField(i)
                  + ": no "
                  + ref.kind()
                  + " named '"
                  + ref.name()
                  + "' in the pipeline");
        }
        deps.add(named);
      } else if (ref != null && ref.path != null) {
        for (Stage other : all) {
          if (other != s && inside(ref.path, other.outputDir()) && !deps.contains(other)) {
            deps.add(other);
          }
        }
      }
    }
    return deps;
  }

  /** Whether {@code path} (maybe a brace pattern) lies in directory {@code dir}. */
  static boolean inside(String path, String dir) {
    String d = dir.endsWith("/") ? dir : dir + "/";
    return path.equals(dir) || path.startsWith(d);
  }

  private static String cycle(List<Stage> left, Map<Stage, List<Stage>> after) {
    // Walk dependencies from the first stuck stage until one repeats.
    List<Stage> path = new ArrayList<>();
    Stage at = left.get(0);
    while (!path.contains(at)) {
      path.add(at);
      Stage current = at;
      at = after.get(current).stream().filter(left::contains).findFirst().orElse(current);
    }
    List<Stage> loop = path.subList(path.indexOf(at), path.size());
    StringBuilder text = new StringBuilder();
    for (Stage s : loop) {
      text.append(s.kind())
          .append(' ')
          .append(s.name())
          .append(" (")
          .append(s.inputField())
          .append(") <- ");
    }
    return text.append(at.kind()).append(' ').append(at.name()).toString();
  }

  private static String path(JsonMappingException e) {
    StringBuilder path = new StringBuilder();
    for (JsonMappingException.Reference ref : e.getPath()) {
      if (ref.getFieldName() != null) {
        path.append(path.length() == 0 ? "" : ".").append(ref.getFieldName());
      } else if (ref.getIndex() >= 0) {
        path.append('[').append(ref.getIndex()).append(']');
      }
    }
    return path.toString();
  }

  private static String problem(JsonMappingException e) {
    if (e instanceof com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException) {
      return "unknown field";
    }
    if (e instanceof com.fasterxml.jackson.databind.exc.InvalidFormatException f) {
      return "'" + f.getValue() + "' is not a " + f.getTargetType().getSimpleName().toLowerCase();
    }
    if (e instanceof com.fasterxml.jackson.databind.exc.MismatchedInputException m
        && m.getTargetType() != null) {
      Class<?> type = m.getTargetType();
      if (type.getPackageName().startsWith("dev.tessera.api")) {
        // One of the resources' own types: say what it holds, not its Java name.
        return "expected an object with the fields "
            + dev.tessera.api.v1alpha1.SchemaValidation.properties(type).stream()
                .map(java.lang.reflect.Field::getName)
                .collect(java.util.stream.Collectors.joining(", "));
      }
      return "expected " + type.getSimpleName().toLowerCase();
    }
    String message = e.getOriginalMessage();
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }
}
