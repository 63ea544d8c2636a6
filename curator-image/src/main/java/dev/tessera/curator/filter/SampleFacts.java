package dev.tessera.curator.filter;

import dev.tessera.curator.image.BoundedDecoder;
import dev.tessera.data.io.Sha256;
import dev.tessera.data.webdataset.Sample;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * What the score phase measures of one sample, decoding its image once: the row of its score table
 * before any model score. Images above the pixel bound are refused from their header, before any
 * pixel is decoded.
 *
 * @param key the sample key
 * @param width image width, or 0 when it could not be read
 * @param height image height, or 0
 * @param contrast grey-level standard deviation (see {@link BasicFilters})
 * @param contentHash hex SHA-256 of the image bytes, or {@code null} without an image
 * @param perceptualHash the {@link PerceptualHash}, or {@code null} when the image did not decode
 * @param caption the caption ("" when missing)
 * @param reasons why the basic filters reject it; empty when it passes
 */
public record SampleFacts(
    String key,
    int width,
    int height,
    double contrast,
    String contentHash,
    long[] perceptualHash,
    String caption,
    List<String> reasons) {

  /** Measures {@code sample} and applies {@code filters}. */
  public static SampleFacts of(Sample sample, BasicFilters filters) {
    List<String> reasons = new ArrayList<>();
    String caption = sample.caption().orElse("");
    reasons.addAll(filters.captionProblems(caption));
    byte[] bytes = sample.image().orElse(null);
    if (bytes == null) {
      reasons.add("no_image");
      return new SampleFacts(sample.key(), 0, 0, 0, null, null, caption, reasons);
    }
    String contentHash = Sha256.of(bytes);
    BoundedDecoder.Decoded decoded;
    try (InputStream source = sample.openImage().orElseThrow()) {
      decoded = BoundedDecoder.decode(source, filters.maxPixels());
    } catch (IOException e) {
      decoded = new BoundedDecoder.Decoded(0, 0, null, null, "bad_image");
    }
    if (decoded.problem() != null) {
      reasons.add(decoded.problem());
      return new SampleFacts(
          sample.key(), decoded.width(), decoded.height(), 0, contentHash, null, caption, reasons);
    }
    BufferedImage image = decoded.image();
    ImageSurvey survey = ImageSurvey.of(image); // one pass for contrast and the hash
    reasons.addAll(filters.imageProblems(image, survey.contrast()));
    return new SampleFacts(
        sample.key(),
        decoded.width(),
        decoded.height(),
        survey.contrast(),
        contentHash,
        PerceptualHash.of(survey.grey()),
        caption,
        reasons);
  }

  /** Whether the basic filters keep it. */
  public boolean passes() {
    return reasons.isEmpty();
  }
}
