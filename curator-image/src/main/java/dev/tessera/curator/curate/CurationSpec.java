package dev.tessera.curator.curate;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.tessera.curator.filter.BasicFilters;
import dev.tessera.curator.filter.Deduplicator;
import dev.tessera.curator.filter.Selection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a curation does: the shape of {@code CurationJob.spec} (the operator and the local runner
 * hand the worker the resource's spec as it is). Every part is optional; what is left out takes the
 * defaults for web-crawled image-text data (see {@code docs/curation.md}).
 *
 * <pre>
 * input: 'raw/{00000..01302}.tar'      # used when the command line gives no --input
 * filters:
 *   basic: {minSide: 64, maxAspect: 3.5, minWords: 2, ...}   # or basic: {enabled: false}
 *   dedup: {enabled: true, nearRadius: 24, captions: true}
 *   uidLists:
 *     - {name: dfn, path: dfn_uids.npy, mode: flag}             # include | exclude | flag
 *   mlmFilter: {model: DIR, tokenizer: tokenizer.json, metric: su, templateFile: su.txt}
 *   clipScore: {model: CLIP_OR_SIGLIP_DIR, tokenizer: tokenizer.json|spiece.model, column: clip}
 * select:                                # which candidates stay (default: all of them)
 *   any:
 *     - {score: su, atLeast: 85}
 *     - {flag: dfn}
 * output:
 *   path: curated                      # used when the command line gives no --out
 *   samplesPerShard: 10000
 *   resizeShorterSide: 512             # 0 keeps images as they are
 * parallelism: 8                         # for the operator; the worker takes --shard-count
 * </pre>
 *
 * @param input the input shards (a directory, file or brace pattern), or null
 * @param basic the basic filters, or null when they are switched off
 * @param dedup exact and near-duplicate removal settings, or null when switched off
 * @param uidLists uid-list filters in order
 * @param mlmFilter the MLM-Filter scorer, or null for none
 * @param clipScore the SigLIP image-caption scorer, or null for none
 * @param select the selection rule over the candidates, or null for all of them
 * @param outputPath the output directory ({@code output.path}; relative to the working directory,
 *     as {@code --out} is), or null
 * @param samplesPerShard samples per output shard
 * @param resizeShorterSide images whose shorter side is larger are resized to it (keeping the
 *     aspect ratio) while resharding; 0 keeps them
 */
public record CurationSpec(
    String input,
    BasicFilters basic,
    DedupSettings dedup,
    List<UidListFilter> uidLists,
    MlmFilterSettings mlmFilter,
    ClipScoreSettings clipScore,
    Selection.Rule select,
    Path outputPath,
    int samplesPerShard,
    int resizeShorterSide) {

  /** The reference's output shard size (img2dataset's default). */
  public static final int DEFAULT_SAMPLES_PER_SHARD = 10_000;

  /**
   * @param nearRadius Hamming radius of near duplicates in the 255-bit perceptual hash
   * @param captions whether a repeated caption makes a duplicate
   */
  public record DedupSettings(int nearRadius, boolean captions) {
    public DedupSettings {
      if (nearRadius < 0 || nearRadius > Deduplicator.MAX_RADIUS) {
        throw new IllegalArgumentException(
            "filters.dedup.nearRadius must be in 0.." + Deduplicator.MAX_RADIUS);
      }
    }
  }

  /** How a uid list acts. */
  public enum UidListMode {
    /** Only samples in the list stay. */
    INCLUDE,
    /** Samples in the list go. */
    EXCLUDE,
    /** Membership becomes a flag column for {@code select} (e.g. DFN's list in a union). */
    FLAG
  }

  /**
   * MLM-Filter scoring in the score phase: a vision-language model rates each sample that passes
   * the basic filters; columns {@code score_<metric>} (greedy) and {@code score_<metric>_expected}.
   *
   * @param model a model directory as the trainer writes it, or a LLaVA-style checkpoint
   * @param visionTower a LLaVA checkpoint's vision tower directory, or null for its {@code
   *     mm_vision_tower}
   * @param tokenizer the model's tokenizer.json
   * @param metric the score's column name (su, itm, odf, ctq)
   * @param template the prompt template, with {@code {caption}}
   * @param pooledSide image tokens per side, 0 for the checkpoint's
   * @param maxNewTokens digits read greedily at most (3 reads "100" whole)
   * @param batch samples scored together
   */
  public record MlmFilterSettings(
      Path model,
      Path visionTower,
      Path tokenizer,
      String metric,
      String template,
      int pooledSide,
      int maxNewTokens,
      int batch) {}

  /**
   * The {@code clipScore} filter: a Hugging Face CLIP or SigLIP checkpoint (both towers) and its
   * tokenizer.json or spiece.model; the score table gets {@code COLUMN} (the cosine) and, for
   * SigLIP, {@code COLUMN_probability}.
   *
   * @param tokenizer the tokenizer file, or null for the model directory's
   * @param maxTokens tokens per caption, 0 for the text tower's {@code max_position_embeddings}
   * @param padToken the token captions are padded with, or null for the model's default
   * @param batch samples scored together
   */
  public record ClipScoreSettings(
      Path model, Path tokenizer, String column, int maxTokens, String padToken, int batch) {}

  /** A DataComp uid list ({@code .npy} of two uint64 per uid, sorted) used as a filter. */
  public record UidListFilter(String name, Path path, UidListMode mode) {}

  public CurationSpec {
    uidLists = List.copyOf(uidLists);
    if (samplesPerShard < 1) {
      throw new IllegalArgumentException("output.samplesPerShard must be >= 1");
    }
    if (resizeShorterSide < 0) {
      throw new IllegalArgumentException("output.resizeShorterSide must be >= 0 (0: no resizing)");
    }
  }

  /** The defaults: basic filters, exact and near-duplicate and duplicate-caption removal. */
  public static CurationSpec defaults() {
    return new CurationSpec(
        null,
        BasicFilters.defaults(),
        new DedupSettings(24, true),
        List.of(),
        null,
        null,
        null,
        null,
        DEFAULT_SAMPLES_PER_SHARD,
        0);
  }

  private static final ObjectMapper YAML =
      YAMLMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

  /**
   * Reads a spec file (YAML or JSON); relative uid-list paths resolve against the file's folder.
   *
   * @throws IllegalArgumentException naming the file and the field that is wrong
   */
  public static CurationSpec read(Path file) throws IOException {
    return read(file, file.toAbsolutePath().getParent());
  }

  /**
   * Reads a spec file whose relative paths (uid lists, model, tokenizer, template file) resolve
   * against {@code base}: in a pod, the storage volume, not the ConfigMap the file is mounted from.
   */
  public static CurationSpec read(Path file, Path base) throws IOException {
    JsonNode root;
    try {
      root = YAML.readTree(Files.readString(file));
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": not valid YAML: " + e.getMessage(), e);
    }
    try {
      return parse(root, base);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
  }

  /** Parses a spec tree (a {@code CurationJob.spec}); {@code base} resolves relative paths. */
  public static CurationSpec parse(JsonNode root, Path base) {
    if (root == null || root.isNull() || root.isMissingNode()) {
      return defaults();
    }
    requireObject(root, "spec");
    allowOnly(root, "spec", "input", "filters", "select", "output", "parallelism");
    CurationSpec defaults = defaults();
    JsonNode filters = root.path("filters");
    if (!filters.isMissingNode()) {
      requireObject(filters, "filters");
      allowOnly(filters, "filters", "basic", "dedup", "uidLists", "mlmFilter", "clipScore");
    }
    BasicFilters basic = basic(filters.path("basic"), defaults.basic());
    DedupSettings dedup = dedup(filters.path("dedup"), defaults.dedup());
    List<UidListFilter> lists = new ArrayList<>();
    JsonNode listNodes = filters.path("uidLists");
    if (!listNodes.isMissingNode()) {
      if (!listNodes.isArray()) {
        throw new IllegalArgumentException("filters.uidLists must be a list");
      }
      for (int i = 0; i < listNodes.size(); i++) {
        lists.add(uidList(listNodes.get(i), "filters.uidLists[" + i + "]", base));
      }
    }
    Selection.Rule select =
        root.has("select") && !root.get("select").isNull()
            ? rule(root.get("select"), "select")
            : null;
    JsonNode output = root.path("output");
    int perShard = defaults.samplesPerShard();
    int resize = defaults.resizeShorterSide();
    Path outputPath = null;
    if (!output.isMissingNode()) {
      requireObject(output, "output");
      allowOnly(output, "output", "path", "samplesPerShard", "resizeShorterSide");
      if (output.hasNonNull("path")) {
        if (!output.get("path").isTextual() || output.get("path").asText().isBlank()) {
          throw new IllegalArgumentException(
              "output.path must be a directory name, got " + output.get("path"));
        }
        outputPath = Path.of(output.get("path").asText());
      }
      perShard = intField(output, "samplesPerShard", "output", perShard);
      resize = intField(output, "resizeShorterSide", "output", resize);
    }
    String input = root.hasNonNull("input") ? root.get("input").asText() : null;
    MlmFilterSettings mlm =
        filters.has("mlmFilter") ? mlmFilter(filters.get("mlmFilter"), base) : null;
    ClipScoreSettings clip =
        filters.has("clipScore") ? clipScore(filters.get("clipScore"), base) : null;
    if (clip != null && mlm != null && clip.column().startsWith(mlm.metric())) {
      throw new IllegalArgumentException(
          "filters.clipScore.column '"
              + clip.column()
              + "' would share the score table's columns with mlmFilter's metric '"
              + mlm.metric()
              + "'");
    }
    return new CurationSpec(
        input, basic, dedup, lists, mlm, clip, select, outputPath, perShard, resize);
  }

  private static BasicFilters basic(JsonNode node, BasicFilters defaults) {
    if (node.isMissingNode()) {
      return defaults;
    }
    requireObject(node, "filters.basic");
    allowOnly(
        node,
        "filters.basic",
        "enabled",
        "minSide",
        "maxPixels",
        "maxAspect",
        "minContrast",
        "minWords",
        "maxWords",
        "minLetterShare",
        "minWordLikeShare");
    if (node.has("enabled") && !node.get("enabled").asBoolean(true)) {
      return null;
    }
    String at = "filters.basic";
    return new BasicFilters(
        intField(node, "minSide", at, defaults.minSide()),
        longField(node, "maxPixels", at, defaults.maxPixels()),
        doubleField(node, "maxAspect", at, defaults.maxAspect()),
        doubleField(node, "minContrast", at, defaults.minContrast()),
        intField(node, "minWords", at, defaults.minWords()),
        intField(node, "maxWords", at, defaults.maxWords()),
        doubleField(node, "minLetterShare", at, defaults.minLetterShare()),
        doubleField(node, "minWordLikeShare", at, defaults.minWordLikeShare()));
  }

  private static DedupSettings dedup(JsonNode node, DedupSettings defaults) {
    if (node.isMissingNode()) {
      return defaults;
    }
    requireObject(node, "filters.dedup");
    allowOnly(node, "filters.dedup", "enabled", "nearRadius", "captions");
    if (node.has("enabled") && !node.get("enabled").asBoolean(true)) {
      return null;
    }
    return new DedupSettings(
        intField(node, "nearRadius", "filters.dedup", defaults.nearRadius()),
        node.has("captions") ? node.get("captions").asBoolean() : defaults.captions());
  }

  private static UidListFilter uidList(JsonNode node, String at, Path base) {
    requireObject(node, at);
    allowOnly(node, at, "name", "path", "mode");
    if (!node.hasNonNull("path")) {
      throw new IllegalArgumentException(at + ".path is required");
    }
    Path path = Path.of(node.get("path").asText());
    if (!path.isAbsolute() && base != null) {
      path = base.resolve(path);
    }
    String mode = node.path("mode").asText("include");
    UidListMode parsed;
    try {
      parsed = UidListMode.valueOf(mode.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          at + ".mode must be include, exclude or flag, got '" + mode + "'");
    }
    String name = node.path("name").asText(path.getFileName().toString().replaceAll("\\.npy$", ""));
    if (!name.matches("[A-Za-z0-9_]+")) {
      throw new IllegalArgumentException(at + ".name must be letters, digits and _, got " + name);
    }
    return new UidListFilter(name, path, parsed);
  }

  private static ClipScoreSettings clipScore(JsonNode node, Path base) {
    String at = "filters.clipScore";
    requireObject(node, at);
    allowOnly(node, at, "model", "tokenizer", "column", "maxTokens", "padToken", "batch");
    if (!node.hasNonNull("model")) {
      throw new IllegalArgumentException(at + ".model is required");
    }
    String column = node.path("column").asText("clip");
    if (!column.matches("[a-z][a-z0-9_]*")) {
      throw new IllegalArgumentException(at + ".column must be lower-case letters, got " + column);
    }
    int maxTokens = intField(node, "maxTokens", at, 0);
    if (maxTokens < 0) {
      throw new IllegalArgumentException(at + ".maxTokens must be >= 0 (0: the model's)");
    }
    int batch = intField(node, "batch", at, 16);
    if (batch < 1) {
      throw new IllegalArgumentException(at + ".batch must be >= 1");
    }
    return new ClipScoreSettings(
        resolve(node.get("model").asText(), base),
        node.hasNonNull("tokenizer") ? resolve(node.get("tokenizer").asText(), base) : null,
        column,
        maxTokens,
        node.hasNonNull("padToken") ? node.get("padToken").asText() : null,
        batch);
  }

  private static MlmFilterSettings mlmFilter(JsonNode node, Path base) {
    String at = "filters.mlmFilter";
    requireObject(node, at);
    allowOnly(
        node,
        at,
        "model",
        "visionTower",
        "tokenizer",
        "metric",
        "template",
        "templateFile",
        "imageTokens",
        "maxNewTokens",
        "batch");
    for (String required : new String[] {"model", "tokenizer"}) {
      if (!node.hasNonNull(required)) {
        throw new IllegalArgumentException(at + "." + required + " is required");
      }
    }
    String template;
    if (node.hasNonNull("templateFile")) {
      Path file = resolve(node.get("templateFile").asText(), base);
      try {
        template = Files.readString(file);
      } catch (IOException e) {
        throw new IllegalArgumentException(at + ".templateFile: cannot read " + file, e);
      }
    } else if (node.hasNonNull("template")) {
      template = node.get("template").asText();
    } else {
      throw new IllegalArgumentException(
          at + " needs template or templateFile (the filter model's prompt, with {caption})");
    }
    if (!template.contains("{caption}")) {
      throw new IllegalArgumentException(at + ": the template has no {caption}");
    }
    String metric = node.path("metric").asText("su");
    if (!metric.matches("[a-z][a-z0-9_]*")) {
      throw new IllegalArgumentException(at + ".metric must be lower-case letters, got " + metric);
    }
    int imageTokens = intField(node, "imageTokens", at, 0);
    int side = (int) Math.round(Math.sqrt(imageTokens));
    if (imageTokens < 0 || side * side != imageTokens) {
      throw new IllegalArgumentException(at + ".imageTokens must be a square (k×k) or 0");
    }
    int maxNewTokens = intField(node, "maxNewTokens", at, 3);
    if (maxNewTokens < 1) {
      throw new IllegalArgumentException(at + ".maxNewTokens must be >= 1");
    }
    int batch = intField(node, "batch", at, 8);
    if (batch < 1) {
      throw new IllegalArgumentException(at + ".batch must be >= 1");
    }
    return new MlmFilterSettings(
        resolve(node.get("model").asText(), base),
        node.hasNonNull("visionTower") ? resolve(node.get("visionTower").asText(), base) : null,
        resolve(node.get("tokenizer").asText(), base),
        metric,
        template,
        side,
        maxNewTokens,
        batch);
  }

  private static Path resolve(String path, Path base) {
    Path resolved = Path.of(path);
    return resolved.isAbsolute() || base == null ? resolved : base.resolve(resolved);
  }

  /**
   * A selection rule: {@code {all: [...]}}, {@code {any: [...]}}, {@code {score: NAME, atLeast: X}}
   * (or {@code atMost}, or {@code topFraction} in (0, 1]), or {@code {flag: NAME}}.
   */
  static Selection.Rule rule(JsonNode node, String at) {
    requireObject(node, at);
    if (node.has("all") || node.has("any")) {
      String kind = node.has("all") ? "all" : "any";
      allowOnly(node, at, kind);
      JsonNode list = node.get(kind);
      if (!list.isArray() || list.isEmpty()) {
        throw new IllegalArgumentException(at + "." + kind + " must be a non-empty list");
      }
      List<Selection.Rule> rules = new ArrayList<>();
      for (int i = 0; i < list.size(); i++) {
        rules.add(rule(list.get(i), at + "." + kind + "[" + i + "]"));
      }
      return kind.equals("all") ? new Selection.All(rules) : new Selection.Any(rules);
    }
    if (node.has("flag")) {
      allowOnly(node, at, "flag");
      return new Selection.Flag(node.get("flag").asText());
    }
    if (node.has("score")) {
      allowOnly(node, at, "score", "atLeast", "atMost", "topFraction");
      String score = node.get("score").asText();
      if (node.has("atLeast")) {
        return new Selection.AtLeast(score, doubleField(node, "atLeast", at, 0));
      }
      if (node.has("atMost")) {
        return new Selection.AtMost(score, doubleField(node, "atMost", at, 0));
      }
      if (node.has("topFraction")) {
        return new Selection.TopFraction(score, doubleField(node, "topFraction", at, 0));
      }
      throw new IllegalArgumentException(at + " needs atLeast, atMost or topFraction");
    }
    throw new IllegalArgumentException(
        at + ": expected all, any, score (with atLeast, atMost or topFraction) or flag");
  }

  private static void requireObject(JsonNode node, String at) {
    if (!node.isObject()) {
      throw new IllegalArgumentException(at + " must be a mapping, got " + node.getNodeType());
    }
  }

  private static void allowOnly(JsonNode node, String at, String... names) {
    List<String> allowed = List.of(names);
    for (Map.Entry<String, JsonNode> field : node.properties()) {
      String name = field.getKey();
      if (!allowed.contains(name)) {
        throw new IllegalArgumentException(
            at + ": unknown field '" + name + "' (known: " + String.join(", ", allowed) + ")");
      }
    }
  }

  private static int intField(JsonNode node, String name, String at, int otherwise) {
    if (!node.has(name)) {
      return otherwise;
    }
    JsonNode value = node.get(name);
    if (!value.canConvertToInt() || !value.isIntegralNumber()) {
      throw new IllegalArgumentException(at + "." + name + " must be an integer, got " + value);
    }
    return value.asInt();
  }

  private static long longField(JsonNode node, String name, String at, long otherwise) {
    if (!node.has(name)) {
      return otherwise;
    }
    JsonNode value = node.get(name);
    if (!value.isIntegralNumber()) {
      throw new IllegalArgumentException(at + "." + name + " must be an integer, got " + value);
    }
    return value.asLong();
  }

  private static double doubleField(JsonNode node, String name, String at, double otherwise) {
    if (!node.has(name)) {
      return otherwise;
    }
    JsonNode value = node.get(name);
    if (!value.isNumber()) {
      throw new IllegalArgumentException(at + "." + name + " must be a number, got " + value);
    }
    return value.asDouble();
  }

  /** The spec as recorded in the output's manifest (what produced it). */
  public Map<String, Object> describe() {
    Map<String, Object> map = new java.util.LinkedHashMap<>();
    map.put("basic", basic == null ? "off" : basic.toString());
    map.put("dedup", dedup == null ? "off" : dedup.toString());
    map.put("uidLists", uidLists.stream().map(UidListFilter::toString).toList());
    map.put(
        "mlmFilter",
        mlmFilter == null
            ? "off"
            : mlmFilter.metric() + " from " + mlmFilter.model().getFileName());
    map.put(
        "clipScore",
        clipScore == null
            ? "off"
            : clipScore.column() + " from " + clipScore.model().getFileName());
    map.put("select", select == null ? "all candidates" : select.toString());
    map.put("samplesPerShard", samplesPerShard);
    map.put("resizeShorterSide", resizeShorterSide);
    return map;
  }

  static final ObjectMapper JSON = JsonMapper.builder().build();
}
