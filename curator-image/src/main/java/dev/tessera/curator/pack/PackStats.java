package dev.tessera.curator.pack;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.util.Map;

/**
 * {@code stats.json} of a packed set. Deterministic: counts only, no times or host names, so the
 * same input and options give the same file.
 *
 * @param inputSamples samples the reader delivered or dropped
 * @param samples samples packed, each copy of a repeated sample counted
 * @param dropped samples not packed, all reasons
 * @param droppedByReason the reasons: reader problems ({@code missing_image}, {@code
 *     invalid_utf8_caption}, …), {@code bad_image}, {@code degenerate_image}, {@code
 *     oversized_image}, {@code empty_caption}, {@code too_long}
 * @param truncated samples whose caption was cut to fit a sequence (each counted once, however
 *     often it is repeated)
 * @param notChosen samples kept by the filters but packed in no round, left out by a repeat below 1
 * @param repeated places holding a sample again (a repeat above 1); {@code samples = input_samples
 *     − dropped − not_chosen + repeated}
 * @param sequences packed sequences
 * @param tokens real (non-padding) tokens over all sequences, visual positions included
 * @param textTokens the text part of {@code tokens}
 * @param fillRatio {@code tokens / (sequences × sequenceLength)}
 * @param lowerBoundSequences {@code ⌈tokens / sequenceLength⌉}: no packing needs fewer sequences
 * @param excessOverLowerBound {@code sequences / lowerBoundSequences − 1}
 * @param sequenceLength tokens per sequence
 * @param imageTokens visual tokens per sample
 * @param algorithm {@code ffd} or {@code bfd}
 * @param samplesPerSequence fewest, mean and most samples in a sequence
 * @param shards packed shards written
 */
@JsonPropertyOrder({
  "input_samples",
  "samples",
  "dropped",
  "dropped_by_reason",
  "truncated",
  "not_chosen",
  "repeated",
  "sequences",
  "tokens",
  "text_tokens",
  "fill_ratio",
  "lower_bound_sequences",
  "excess_over_lower_bound",
  "sequence_length",
  "image_tokens",
  "algorithm",
  "samples_per_sequence",
  "shards"
})
public record PackStats(
    @JsonProperty("input_samples") long inputSamples,
    @JsonProperty("samples") long samples,
    @JsonProperty("dropped") long dropped,
    @JsonProperty("dropped_by_reason") Map<String, Long> droppedByReason,
    @JsonProperty("truncated") long truncated,
    @JsonProperty("not_chosen") long notChosen,
    @JsonProperty("repeated") long repeated,
    @JsonProperty("sequences") long sequences,
    @JsonProperty("tokens") long tokens,
    @JsonProperty("text_tokens") long textTokens,
    @JsonProperty("fill_ratio") double fillRatio,
    @JsonProperty("lower_bound_sequences") long lowerBoundSequences,
    @JsonProperty("excess_over_lower_bound") double excessOverLowerBound,
    @JsonProperty("sequence_length") int sequenceLength,
    @JsonProperty("image_tokens") int imageTokens,
    @JsonProperty("algorithm") String algorithm,
    @JsonProperty("samples_per_sequence") Map<String, Double> samplesPerSequence,
    @JsonProperty("shards") int shards) {
  public static final String FILE_NAME = "stats.json";
}
