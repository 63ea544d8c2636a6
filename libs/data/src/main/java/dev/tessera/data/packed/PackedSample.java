package dev.tessera.data.packed;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.util.Objects;

/**
 * One image-caption sample inside a packed sequence.
 *
 * @param uid the sample's DataComp uid (32 hex digits) when its metadata had one, else {@code null}
 * @param key where it came from: source shard file name and sample key, {@code "00003.tar/0000042"}
 * @param offset position of its first token ({@code <s>}) in the sequence
 * @param length its multimodal length: text tokens plus the image's visual tokens
 * @param textTokens its text tokens (everything but the visual positions)
 * @param truncated whether its caption was cut to fit the sequence length
 * @param image extension of its image member in the sequence ({@code "3.jpg"})
 */
@JsonPropertyOrder({"uid", "key", "offset", "length", "textTokens", "truncated", "image"})
@JsonInclude(JsonInclude.Include.ALWAYS)
public record PackedSample(
    String uid,
    String key,
    int offset,
    int length,
    int textTokens,
    boolean truncated,
    String image) {
  public PackedSample {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(image, "image");
  }
}
