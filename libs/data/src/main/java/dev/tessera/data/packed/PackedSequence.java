package dev.tessera.data.packed;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.tessera.data.io.Npy;
import dev.tessera.data.webdataset.Sample;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * One packed training sequence: several image-caption samples laid end to end, padded to the
 * sequence length. Stored as one WebDataset sample (see {@code docs/formats.md}):
 *
 * <pre>
 * 000000042.tokens.npy     int32[L]  input ids; visual positions hold -200, padding the pad id
 * 000000042.positions.npy  int32[L]  position of each token inside its own sample (0 at its {@code <s>})
 * 000000042.loss_mask.npy  uint8[L]  1 where the token is a training target, 0 at visual positions and padding
 * 000000042.json           sequence number, length (real tokens) and the samples with their boundaries
 * 000000042.0.jpg, .1.jpg  the samples' images, in sample order
 * </pre>
 *
 * @param index the sequence's number in its packed set
 * @param length real tokens; positions from here to the sequence length are padding
 * @param tokens input ids, one per position
 * @param positions each token's position within its sample, for {@code document} attention
 * @param lossMask 1 where the token is a target of the language-model loss
 * @param samples the samples, in order, with their offsets and lengths
 * @param images each sample's image bytes, in sample order
 */
public record PackedSequence(
    long index,
    int length,
    int[] tokens,
    int[] positions,
    byte[] lossMask,
    List<PackedSample> samples,
    List<ByteBuffer> images) {

  static final String TOKENS = "tokens.npy";
  static final String POSITIONS = "positions.npy";
  static final String LOSS_MASK = "loss_mask.npy";
  static final String META = "json";

  private static final ObjectMapper JSON = JsonMapper.builder().build();

  public PackedSequence {
    Objects.requireNonNull(tokens, "tokens");
    Objects.requireNonNull(positions, "positions");
    Objects.requireNonNull(lossMask, "lossMask");
    samples = List.copyOf(samples);
    images = List.copyOf(images);
    if (samples.size() != images.size()) {
      throw new IllegalArgumentException(
          samples.size() + " samples but " + images.size() + " images");
    }
  }

  /**
   * One sample to lay into a sequence.
   *
   * @param uid DataComp uid or {@code null}
   * @param key source shard and key
   * @param ids the sample's text ids with exactly one {@link PackedLayout#IMAGE_TOKEN_ID} where its
   *     image goes
   * @param truncated whether the caption was cut to fit
   * @param imageExtension the image's format extension ({@code jpg}, {@code png}, ...)
   * @param image the image's bytes
   */
  public record Part(
      String uid,
      String key,
      int[] ids,
      boolean truncated,
      String imageExtension,
      ByteBuffer image) {
    /** Length once the image sentinel stands for {@code imageTokens} visual tokens. */
    public int multimodalLength(int imageTokens) {
      return ids.length - 1 + imageTokens;
    }
  }

  /**
   * Lays {@code parts} end to end: the image sentinel of each becomes {@code layout.imageTokens()}
   * visual positions, positions restart at every sample, the loss covers every text token (the
   * {@code <s>}, newline, caption and {@code <|im_end|>} of each sample, as Open-Qwen2VL trains),
   * and the rest is padding.
   *
   * @throws IllegalArgumentException when a part lacks its single image sentinel or the parts do
   *     not fit the sequence length
   */
  public static PackedSequence build(long index, PackedLayout layout, List<Part> parts) {
    int capacity = layout.sequenceLength();
    int[] tokens = new int[capacity];
    int[] positions = new int[capacity];
    byte[] lossMask = new byte[capacity];
    List<PackedSample> samples = new ArrayList<>(parts.size());
    List<ByteBuffer> images = new ArrayList<>(parts.size());
    int at = 0;
    for (Part part : parts) {
      int sentinels = 0;
      for (int id : part.ids()) {
        sentinels += id == layout.imageTokenId() ? 1 : 0;
      }
      if (sentinels != 1) {
        throw new IllegalArgumentException(
            "sample " + part.key() + " has " + sentinels + " image sentinels, expected 1");
      }
      int length = part.multimodalLength(layout.imageTokens());
      if (at + length > capacity) {
        throw new IllegalArgumentException(
            "samples need more than the sequence length " + capacity + " at " + part.key());
      }
      int start = at;
      for (int id : part.ids()) {
        if (id == layout.imageTokenId()) {
          Arrays.fill(tokens, at, at + layout.imageTokens(), id);
          for (int k = 0; k < layout.imageTokens(); k++) {
            positions[at + k] = at + k - start;
          }
          at += layout.imageTokens();
        } else {
          tokens[at] = id;
          positions[at] = at - start;
          lossMask[at] = 1;
          at++;
        }
      }
      String imageName = samples.size() + "." + part.imageExtension();
      samples.add(
          new PackedSample(
              part.uid(),
              part.key(),
              start,
              length,
              part.ids().length - 1,
              part.truncated(),
              imageName));
      images.add(part.image());
    }
    Arrays.fill(tokens, at, capacity, layout.padTokenId());
    return new PackedSequence(index, at, tokens, positions, lossMask, samples, images);
  }

  /** The WebDataset key of sequence {@code index}: nine digits, zero-padded. */
  public static String key(long index) {
    return String.format(Locale.ROOT, "%09d", index);
  }

  /** This sequence as a WebDataset sample. */
  public Sample toSample() {
    Map<String, ByteBuffer> members = new LinkedHashMap<>();
    members.put(TOKENS, ByteBuffer.wrap(Npy.int32(tokens)));
    members.put(POSITIONS, ByteBuffer.wrap(Npy.int32(positions)));
    members.put(LOSS_MASK, ByteBuffer.wrap(Npy.uint8(lossMask)));
    try {
      members.put(META, ByteBuffer.wrap(JSON.writeValueAsBytes(new Meta(index, length, samples))));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    for (int i = 0; i < samples.size(); i++) {
      members.put(samples.get(i).image(), images.get(i));
    }
    return new Sample(null, key(index), members);
  }

  /**
   * Reads a sequence back from its WebDataset sample.
   *
   * @throws IOException naming the sequence and the member that is missing or malformed
   */
  public static PackedSequence fromSample(Sample sample) throws IOException {
    String where = "packed sequence " + sample.key() + " in " + sample.shard();
    try {
      Meta meta = JSON.readValue(member(sample, META, where).array(), Meta.class);
      int[] tokens = Npy.readInt32(member(sample, TOKENS, where));
      int[] positions = Npy.readInt32(member(sample, POSITIONS, where));
      byte[] lossMask = Npy.readUint8(member(sample, LOSS_MASK, where));
      List<ByteBuffer> images = new ArrayList<>(meta.samples().size());
      for (PackedSample packed : meta.samples()) {
        images.add(member(sample, packed.image(), where));
      }
      return new PackedSequence(
          meta.sequence(), meta.length(), tokens, positions, lossMask, meta.samples(), images);
    } catch (IOException | RuntimeException e) {
      throw new IOException(where + ": " + e.getMessage(), e);
    }
  }

  private static ByteBuffer member(Sample sample, String extension, String where)
      throws IOException {
    ByteBuffer buffer = sample.buffers().get(extension);
    if (buffer == null) {
      throw new IOException(where + " has no member " + extension);
    }
    if (extension.equals(META)) {
      byte[] copy = new byte[buffer.remaining()];
      buffer.duplicate().get(copy);
      return ByteBuffer.wrap(copy);
    }
    return buffer.asReadOnlyBuffer();
  }

  /**
   * Checks the sequence against the layout: array sizes, contiguous samples that fill exactly
   * {@link #length} tokens, each sample's visual block and positions, a loss mask that is 0 exactly
   * at visual positions and padding, and padding ids.
   *
   * @return one line per problem, empty when the sequence is well formed
   */
  public List<String> problems(PackedLayout layout) {
    List<String> problems = new ArrayList<>();
    int capacity = layout.sequenceLength();
    String name = "sequence " + index;
    if (tokens.length != capacity || positions.length != capacity || lossMask.length != capacity) {
      problems.add(name + ": arrays are not " + capacity + " long");
      return problems;
    }
    if (length < 0 || length > capacity) {
      problems.add(name + ": length " + length + " outside 0.." + capacity);
      return problems;
    }
    int at = 0;
    for (PackedSample sample : samples) {
      String where = name + " sample " + sample.key();
      if (sample.offset() != at) {
        problems.add(where + ": starts at " + sample.offset() + ", expected " + at);
        return problems;
      }
      if (sample.length() != sample.textTokens() + layout.imageTokens()
          || at + sample.length() > length) {
        problems.add(where + ": length " + sample.length() + " does not fit its text and image");
        return problems;
      }
      int visual = 0;
      for (int i = at; i < at + sample.length(); i++) {
        boolean isImage = tokens[i] == layout.imageTokenId();
        visual += isImage ? 1 : 0;
        if (positions[i] != i - at) {
          problems.add(
              where + ": position " + positions[i] + " at " + i + ", expected " + (i - at));
          return problems;
        }
        if (lossMask[i] != (isImage ? 0 : 1)) {
          problems.add(where + ": loss mask " + lossMask[i] + " at " + i);
          return problems;
        }
      }
      if (visual != layout.imageTokens()) {
        problems.add(where + ": " + visual + " visual positions, expected " + layout.imageTokens());
      }
      at += sample.length();
    }
    if (at != length) {
      problems.add(name + ": samples cover " + at + " tokens, length says " + length);
    }
    for (int i = length; i < capacity; i++) {
      if (tokens[i] != layout.padTokenId() || lossMask[i] != 0 || positions[i] != 0) {
        problems.add(name + ": padding at " + i + " is not (pad, position 0, no loss)");
        break;
      }
    }
    return problems;
  }

  /**
   * One line of JSON that tools can check a packing with: {@code {"shard": …, "sequence": …,
   * "tokens": …, "samples": [{"uid": …, "key": …, "length": …}, …]}}.
   */
  public String summaryLine(String shard) {
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("shard", shard);
    line.put("sequence", index);
    line.put("tokens", length);
    List<Map<String, Object>> entries = new ArrayList<>(samples.size());
    for (PackedSample sample : samples) {
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("uid", sample.uid());
      entry.put("key", sample.key());
      entry.put("length", sample.length());
      entries.add(entry);
    }
    line.put("samples", entries);
    try {
      return JSON.writeValueAsString(line);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The sequence's {@code json} member. */
  @JsonPropertyOrder({"sequence", "length", "samples"})
  record Meta(long sequence, int length, List<PackedSample> samples) {}
}
