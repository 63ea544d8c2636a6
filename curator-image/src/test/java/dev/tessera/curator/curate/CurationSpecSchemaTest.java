package dev.tessera.curator.curate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.api.v1alpha1.CurationJobSpec;
import dev.tessera.api.v1alpha1.SelectLeaf;
import dev.tessera.api.v1alpha1.SelectRule;
import dev.tessera.api.v1alpha1.SelectTerm;
import dev.tessera.curator.filter.BasicFilters;
import dev.tessera.curator.filter.Selection;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CurationJob schema (the operator's {@code CurationJobSpec}) and the worker's {@code
 * curation.yaml} parser agree: the operator hands the worker {@code spec.workerSpec()} as JSON, and
 * every value in it arrives; every field the schema has is one the parser knows, so a field added
 * to the CRD without the worker learning it fails the build.
 */
class CurationSpecSchemaTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String TEMPLATE = "Rate the caption {caption} from 0 to 100.";

  @TempDir Path base;

  @BeforeEach
  void templateFile() throws IOException {
    Files.createDirectories(base.resolve("prompts"));
    Files.writeString(base.resolve("prompts/itm.txt"), TEMPLATE);
  }

  private static SelectLeaf leaf(String score, Double atLeast, Double atMost) {
    SelectLeaf leaf = new SelectLeaf();
    leaf.score = score;
    leaf.atLeast = atLeast;
    leaf.atMost = atMost;
    return leaf;
  }

  /**
   * Every field set, with values other than the defaults. Fields that exclude each other take
   * turns: the MLM prompt from a file and the top-level rule an {@code any}; in the {@code
   * alternative}, the prompt inline and the rule an {@code all}.
   */
  private static CurationJobSpec populated(boolean alternative) {
    CurationJobSpec spec = new CurationJobSpec();
    spec.input = "raw/{00000..00003}.tar";
    spec.parallelism = 8;

    CurationJobSpec.BasicFilters basic = new CurationJobSpec.BasicFilters();
    basic.enabled = true;
    basic.minSide = 96;
    basic.maxPixels = 50_000_000L;
    basic.maxAspect = 2.5;
    basic.minContrast = 2.25;
    basic.minWords = 3;
    basic.maxWords = 150;
    basic.minLetterShare = 0.55;
    basic.minWordLikeShare = 0.65;

    CurationJobSpec.Dedup dedup = new CurationJobSpec.Dedup();
    dedup.enabled = true;
    dedup.nearRadius = 12;
    dedup.captions = false;

    CurationJobSpec.UidList dfn = new CurationJobSpec.UidList();
    dfn.name = "dfn";
    dfn.path = "lists/dfn_uids.npy";
    dfn.mode = "flag";
    CurationJobSpec.UidList blocked = new CurationJobSpec.UidList();
    blocked.name = "blocked";
    blocked.path = "lists/blocked.npy";
    blocked.mode = "exclude";

    CurationJobSpec.MlmFilter mlm = new CurationJobSpec.MlmFilter();
    mlm.model = "models/mlm-filter";
    mlm.visionTower = "models/clip-vit-large-patch14-336";
    mlm.tokenizer = "models/mlm-filter/tokenizer.json";
    mlm.metric = "itm";
    if (alternative) {
      mlm.template = "Inline: {caption}?";
    } else {
      mlm.templateFile = "prompts/itm.txt";
    }
    mlm.imageTokens = 16;
    mlm.maxNewTokens = 2;
    mlm.batch = 5;

    CurationJobSpec.Filters filters = new CurationJobSpec.Filters();
    filters.basic = basic;
    filters.dedup = dedup;
    filters.uidLists = List.of(dfn, blocked);
    filters.mlmFilter = mlm;
    CurationJobSpec.ClipScore clip = new CurationJobSpec.ClipScore();
    clip.model = "models/siglip";
    clip.tokenizer = "models/siglip/tokenizer.json";
    clip.column = "siglip";
    clip.maxTokens = 32;
    clip.padToken = "</s>";
    clip.batch = 8;
    filters.clipScore = clip;
    spec.filters = filters;

    // any: [{all: [itm >= 85, itm_expected <= 99.5]}, {flag: dfn}, {score: itm, topFraction: 0.3}]
    SelectTerm both = new SelectTerm();
    both.all = List.of(leaf("itm", 85.0, null), leaf("itm_expected", null, 99.5));
    SelectTerm flagged = new SelectTerm();
    flagged.flag = "dfn";
    SelectTerm top = new SelectTerm();
    top.score = "itm";
    top.topFraction = 0.3;
    SelectTerm either = new SelectTerm();
    either.any = List.of(leaf("su", 50.0, null), leaf("ctq", null, 10.0));
    SelectRule select = new SelectRule();
    if (alternative) {
      select.all = List.of(both, flagged, top, either);
    } else {
      select.any = List.of(both, flagged, top, either);
    }
    spec.select = select;

    CurationJobSpec.Output output = new CurationJobSpec.Output();
    output.path = "curated/run-1";
    output.samplesPerShard = 500;
    output.resizeShorterSide = 448;
    spec.output = output;
    return spec;
  }

  /** {@code spec.workerSpec()} as the operator writes it, read back as the worker does. */
  private CurationSpec handedOver(CurationJobSpec spec) throws IOException {
    JsonNode tree = JSON.readTree(JSON.writeValueAsString(spec.workerSpec()));
    return CurationSpec.parse(tree, base);
  }

  @Test
  void everyValueOfTheResourceReachesTheWorker() throws IOException {
    CurationSpec curation = handedOver(populated(false));

    assertThat(curation.input()).isEqualTo("raw/{00000..00003}.tar");
    assertThat(curation.basic())
        .isEqualTo(new BasicFilters(96, 50_000_000L, 2.5, 2.25, 3, 150, 0.55, 0.65));
    assertThat(curation.dedup()).isEqualTo(new CurationSpec.DedupSettings(12, false));
    assertThat(curation.uidLists())
        .containsExactly(
            new CurationSpec.UidListFilter(
                "dfn", base.resolve("lists/dfn_uids.npy"), CurationSpec.UidListMode.FLAG),
            new CurationSpec.UidListFilter(
                "blocked", base.resolve("lists/blocked.npy"), CurationSpec.UidListMode.EXCLUDE));
    assertThat(curation.mlmFilter())
        .isEqualTo(
            new CurationSpec.MlmFilterSettings(
                base.resolve("models/mlm-filter"),
                base.resolve("models/clip-vit-large-patch14-336"),
                base.resolve("models/mlm-filter/tokenizer.json"),
                "itm",
                TEMPLATE,
                4,
                2,
                5));
    assertThat(curation.clipScore())
        .isEqualTo(
            new CurationSpec.ClipScoreSettings(
                base.resolve("models/siglip"),
                base.resolve("models/siglip/tokenizer.json"),
                "siglip",
                32,
                "</s>",
                8));
    List<Selection.Rule> terms =
        List.of(
            new Selection.All(
                List.of(
                    new Selection.AtLeast("itm", 85), new Selection.AtMost("itm_expected", 99.5))),
            new Selection.Flag("dfn"),
            new Selection.TopFraction("itm", 0.3),
            new Selection.Any(
                List.of(new Selection.AtLeast("su", 50), new Selection.AtMost("ctq", 10))));
    assertThat(curation.select()).isEqualTo(new Selection.Any(terms));
    assertThat(curation.outputPath()).isEqualTo(Path.of("curated/run-1"));
    assertThat(curation.samplesPerShard()).isEqualTo(500);
    assertThat(curation.resizeShorterSide()).isEqualTo(448);

    // The worker reads it from the file the operator mounts: the same spec.
    Path file = base.resolve("curation.yaml");
    Files.writeString(file, JSON.writeValueAsString(populated(false).workerSpec()));
    assertThat(CurationSpec.read(file)).isEqualTo(curation);

    CurationSpec alternative = handedOver(populated(true));
    assertThat(alternative.mlmFilter().template()).isEqualTo("Inline: {caption}?");
    assertThat(alternative.select()).isEqualTo(new Selection.All(terms));
  }

  @Test
  void switchedOffFiltersStayOff() throws IOException {
    CurationJobSpec spec = populated(false);
    spec.filters.basic = new CurationJobSpec.BasicFilters();
    spec.filters.basic.enabled = false;
    spec.filters.dedup = new CurationJobSpec.Dedup();
    spec.filters.dedup.enabled = false;
    CurationSpec curation = handedOver(spec);
    assertThat(curation.basic()).isNull();
    assertThat(curation.dedup()).isNull();
  }

  // ---- every schema field is one the worker knows ----------------------------------------------

  /** The schema's classes, each with where it sits in {@code curation.yaml}. */
  private static final List<Class<?>> SCHEMA =
      List.of(
          CurationJobSpec.WorkerSpec.class,
          CurationJobSpec.Filters.class,
          CurationJobSpec.BasicFilters.class,
          CurationJobSpec.Dedup.class,
          CurationJobSpec.UidList.class,
          CurationJobSpec.MlmFilter.class,
          CurationJobSpec.Output.class,
          SelectRule.class,
          SelectTerm.class,
          SelectLeaf.class);

  /** {@code node} placed where objects of {@code type} sit in the spec. */
  private static JsonNode placed(Class<?> type, JsonNode node) {
    ObjectNode root = JSON.createObjectNode();
    if (type == CurationJobSpec.WorkerSpec.class) {
      return node;
    } else if (type == CurationJobSpec.Filters.class) {
      root.set("filters", node);
    } else if (type == CurationJobSpec.BasicFilters.class) {
      root.putObject("filters").set("basic", node);
    } else if (type == CurationJobSpec.Dedup.class) {
      root.putObject("filters").set("dedup", node);
    } else if (type == CurationJobSpec.UidList.class) {
      root.putObject("filters").putArray("uidLists").add(node);
    } else if (type == CurationJobSpec.MlmFilter.class) {
      root.putObject("filters").set("mlmFilter", node);
    } else if (type == CurationJobSpec.Output.class) {
      root.set("output", node);
    } else if (type == SelectRule.class) {
      root.set("select", node);
    } else if (type == SelectTerm.class) {
      root.putObject("select").putArray("any").add(node);
    } else if (type == SelectLeaf.class) {
      root.putObject("select").putArray("any").addObject().putArray("all").add(node);
    } else {
      throw new IllegalArgumentException("no place for " + type);
    }
    return root;
  }

  /**
   * What must stand beside {@code field} for the object to be valid: a uid list needs its path, the
   * MLM filter its model, tokenizer and prompt, a score test its score and one threshold.
   */
  private static ObjectNode beside(Class<?> type, String field) {
    ObjectNode node = JSON.createObjectNode();
    if (type == CurationJobSpec.UidList.class) {
      node.put("path", "lists/any.npy");
    } else if (type == CurationJobSpec.MlmFilter.class) {
      node.put("model", "models/m");
      node.put("tokenizer", "models/m/tokenizer.json");
      node.put("template", "{caption}");
    } else if (type == SelectLeaf.class && !field.equals("flag")) {
      node.put("score", "su");
      if (field.equals("score")) {
        node.put("atLeast", 1.0);
      }
    }
    return node;
  }

  /** The public instance fields {@code type} declares (inherited ones belong to their class). */
  private static List<Field> fields(Class<?> type) {
    List<Field> fields = new ArrayList<>();
    for (Field field : type.getDeclaredFields()) {
      int modifiers = field.getModifiers();
      if (Modifier.isPublic(modifiers) && !Modifier.isStatic(modifiers)) {
        fields.add(field);
      }
    }
    return fields;
  }

  /** Every object of a schema class in {@code value}, by class. */
  private static void collect(Object value, Map<Class<?>, List<Object>> found)
      throws IllegalAccessException {
    if (value instanceof List<?> list) {
      for (Object item : list) {
        collect(item, found);
      }
      return;
    }
    if (value == null || !SCHEMA.contains(value.getClass())) {
      return;
    }
    found.computeIfAbsent(value.getClass(), c -> new ArrayList<>()).add(value);
    for (Field field : value.getClass().getFields()) {
      if (!Modifier.isStatic(field.getModifiers())) {
        collect(field.get(value), found);
      }
    }
  }

  /** A value the populated specs give {@code field}, as JSON. */
  private static JsonNode example(Map<Class<?>, List<Object>> found, Field field)
      throws IllegalAccessException {
    for (Map.Entry<Class<?>, List<Object>> objects : found.entrySet()) {
      if (!field.getDeclaringClass().isAssignableFrom(objects.getKey())) {
        continue;
      }
      for (Object object : objects.getValue()) {
        Object value = field.get(object);
        if (value != null) {
          return JSON.valueToTree(value);
        }
      }
    }
    return fail(
        "populated() sets no %s.%s: give it a value there and check that it arrives",
        field.getDeclaringClass().getSimpleName(), field.getName());
  }

  @Test
  void everyFieldOfTheSchemaIsOneTheWorkerKnows() throws IllegalAccessException {
    Map<Class<?>, List<Object>> found = new LinkedHashMap<>();
    collect(populated(false).workerSpec(), found);
    collect(populated(true).workerSpec(), found);
    assertThat(found.keySet())
        .as("the populated specs use every schema class")
        .hasSize(SCHEMA.size());
    int checked = 0;
    for (Class<?> type : SCHEMA) {
      assertThat(fields(type)).as(type.getSimpleName()).isNotEmpty();
      for (Field field : fields(type)) {
        ObjectNode node = beside(type, field.getName());
        node.set(field.getName(), example(found, field));
        JsonNode tree = placed(type, node);
        assertThatCode(() -> CurationSpec.parse(tree, base))
            .as(
                "the worker must accept %s.%s (no \"unknown field\"), here as %s",
                type.getSimpleName(), field.getName(), tree)
            .doesNotThrowAnyException();
        checked++;
      }
    }
    assertThat(checked).as("fields checked (the schema has 43 today)").isGreaterThanOrEqualTo(43);
  }

  /** The check above has teeth: a field the worker does not know is refused, by name. */
  @Test
  void aFieldTheWorkerDoesNotKnowIsRefused() {
    for (Class<?> type : SCHEMA) {
      ObjectNode node = beside(type, "retries");
      node.put("retries", 3);
      JsonNode tree = placed(type, node);
      assertThatThrownBy(() -> CurationSpec.parse(tree, base))
          .as(type.getSimpleName())
          .isInstanceOf(IllegalArgumentException.class)
          .message()
          .containsAnyOf("unknown field 'retries'", "expected all, any, score");
    }
  }
}
