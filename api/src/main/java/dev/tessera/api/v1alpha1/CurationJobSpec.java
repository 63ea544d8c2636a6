package dev.tessera.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

/**
 * {@code CurationJob.spec}. The worker reads {@link #workerSpec() the curation part} as its {@code
 * curation.yaml} (docs/curation.md); the rest places its pods.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class CurationJobSpec extends WorkloadSpec {

  @JsonPropertyDescription(
      "Input shards: a directory, a .tar, or a brace pattern such as raw/{00000..01302}.tar.")
  @Required
  @Pattern("^[^\\s]+$")
  @ValidationRule(
      value = "!self.startsWith('/') && !self.matches('(^|/)\\\\.\\\\.(/|$)')",
      message = "input must be a path inside the storage volume (relative, no '..' segment)")
  public String input;

  @JsonPropertyDescription("The filters; what is left out takes the defaults of docs/curation.md.")
  public Filters filters;

  @JsonPropertyDescription(
      "Which candidates stay, e.g. any: [{score: su, atLeast: 85}, {flag: dfn}]; default: all.")
  public SelectRule select;

  @JsonPropertyDescription("Where and how the kept samples are written.")
  @Required
  public Output output;

  @JsonPropertyDescription("Pods scoring and resharding in parallel; default 1.")
  @Min(1)
  @Max(1000)
  public Integer parallelism;

  public int parallelismOrDefault() {
    return parallelism == null ? 1 : parallelism;
  }

  /** The part of the spec the worker reads as {@code curation.yaml}. */
  public WorkerSpec workerSpec() {
    WorkerSpec w = new WorkerSpec();
    w.input = input;
    w.filters = filters;
    w.select = select;
    w.output = output;
    w.parallelism = parallelism;
    return w;
  }

  /** {@code curation.yaml}: the curation part of the spec, as the worker reads it. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class WorkerSpec {
    public String input;
    public Filters filters;
    public SelectRule select;
    public Output output;
    public Integer parallelism;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Filters {
    @JsonPropertyDescription("Image and caption checks; enabled by default.")
    public BasicFilters basic;

    @JsonPropertyDescription("Exact, near-duplicate and duplicate-caption removal; on by default.")
    public Dedup dedup;

    @JsonPropertyDescription("DataComp uid lists (.npy) to include, exclude or flag samples.")
    public List<UidList> uidLists;

    @JsonPropertyDescription("MLM-Filter scores from a vision-language model.")
    public MlmFilter mlmFilter;

    @JsonPropertyDescription("Image-caption cosine from a SigLIP checkpoint (both towers).")
    public ClipScore clipScore;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ClipScore {
    @JsonPropertyDescription(
        "Hugging Face CLIP or SigLIP directory (config.json, safetensors,"
            + " preprocessor_config.json for CLIP).")
    @Required
    public String model;

    @JsonPropertyDescription(
        "The checkpoint's tokenizer.json, or SigLIP's SentencePiece spiece.model (default: the"
            + " model directory's tokenizer.json, else its spiece.model).")
    public String tokenizer;

    @JsonPropertyDescription(
        "Score column for the cosine (default clip); COLUMN_probability holds SigLIP's match"
            + " probability.")
    @Pattern("^[a-z][a-z0-9_]*$")
    public String column;

    @JsonPropertyDescription(
        "Most tokens per caption; 0: the text tower's max_position_embeddings.")
    @Min(0)
    public Integer maxTokens;

    @JsonPropertyDescription(
        "Token SigLIP captions are padded with (default: the tokenizer's pad_token, else <pad>"
            + " for a tokenizer.json and </s> for spiece.model); CLIP pads with id 0 as OpenCLIP"
            + " does.")
    public String padToken;

    @JsonPropertyDescription("Samples scored together (default 16).")
    @Min(1)
    @Max(1024)
    public Integer batch;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class BasicFilters {
    @JsonPropertyDescription("false switches the basic filters off.")
    public Boolean enabled;

    @JsonPropertyDescription("Smallest shorter image side in pixels (default 64).")
    @Min(1)
    public Integer minSide;

    @JsonPropertyDescription("Most pixels an image may have (default 89478485).")
    @Min(1)
    public Long maxPixels;

    @JsonPropertyDescription("Largest longer-to-shorter side ratio (default 3.5).")
    @Min(1)
    public Double maxAspect;

    @JsonPropertyDescription("Smallest grey-level standard deviation (default 1.0).")
    @Min(0)
    public Double minContrast;

    @JsonPropertyDescription("Fewest caption words (default 2).")
    @Min(0)
    public Integer minWords;

    @JsonPropertyDescription("Most caption words (default 200).")
    @Min(1)
    public Integer maxWords;

    @JsonPropertyDescription("Smallest share of letters among the caption's characters (0.6).")
    @Min(0)
    @Max(1)
    public Double minLetterShare;

    @JsonPropertyDescription("Smallest share of word-like tokens in the caption (0.6).")
    @Min(0)
    @Max(1)
    public Double minWordLikeShare;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Dedup {
    @JsonPropertyDescription("false switches deduplication off.")
    public Boolean enabled;

    @JsonPropertyDescription("Hamming radius of near duplicates in the perceptual hash (24).")
    @Min(0)
    @Max(255)
    public Integer nearRadius;

    @JsonPropertyDescription("Whether a repeated caption makes a duplicate (true).")
    public Boolean captions;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class UidList {
    @JsonPropertyDescription("Name of the flag column and rejection reason; default: file name.")
    @Pattern("^[a-z][a-z0-9_]*$")
    public String name;

    @JsonPropertyDescription("The .npy uid list, relative to the storage volume.")
    @Required
    public String path;

    @JsonPropertyDescription("include (only listed stay), exclude (listed go) or flag.")
    @Pattern("^(include|exclude|flag)$")
    public String mode;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  @ValidationRule(
      value = "!(has(self.template) && has(self.templateFile))",
      message = "mlmFilter takes template or templateFile, not both")
  public static class MlmFilter {
    @JsonPropertyDescription(
        "Model directory as tessera-trainer writes it, or a LLaVA-style checkpoint (mm_vision_tower,"
            + " mlp2x_gelu projector, Qwen2 decoder).")
    @Required
    public String model;

    @JsonPropertyDescription(
        "A LLaVA checkpoint's vision tower directory (CLIP or SigLIP); default: its"
            + " mm_vision_tower, relative to the model.")
    public String visionTower;

    @JsonPropertyDescription("The model's tokenizer.json.")
    @Required
    public String tokenizer;

    @JsonPropertyDescription("Score column name: su, itm, odf or ctq (default su).")
    @Pattern("^[a-z][a-z0-9_]*$")
    public String metric;

    @JsonPropertyDescription("Prompt template with {caption}.")
    public String template;

    @JsonPropertyDescription("File holding the prompt template.")
    public String templateFile;

    @JsonPropertyDescription("k x k image tokens; 0: the checkpoint's projector.")
    @Min(0)
    public Integer imageTokens;

    @JsonPropertyDescription("Digits read greedily at most (3).")
    @Min(1)
    @Max(8)
    public Integer maxNewTokens;

    @JsonPropertyDescription(
        "Samples scored together: their images through the tower and prompts through the decoder"
            + " as one batch (default 8).")
    @Min(1)
    @Max(256)
    public Integer batch;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Output {
    @JsonPropertyDescription("Output directory, relative to the storage volume.")
    @Required
    @ValidationRule(
        value = "!self.startsWith('/') && !self.matches('(^|/)\\\\.\\\\.(/|$)')",
        message =
            "output.path must be a path inside the storage volume (relative, no '..' segment)")
    public String path;

    @JsonPropertyDescription("Samples per output shard (default 10000).")
    @Min(1)
    public Integer samplesPerShard;

    @JsonPropertyDescription("Resize images whose shorter side is larger; 0 keeps them (default).")
    @Min(0)
    public Integer resizeShorterSide;
  }
}
