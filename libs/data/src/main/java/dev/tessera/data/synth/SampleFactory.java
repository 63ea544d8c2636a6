package dev.tessera.data.synth;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.tessera.data.webdataset.Sample;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Builds sample {@code index} as a pure function of (seed, index, plan): the same inputs give the
 * same bytes on any thread, which is what makes parallel generation deterministic.
 */
final class SampleFactory {
  /** Clean images: shorter side and aspect bounds, as in web crawls. */
  static final int MIN_SIDE = 64;

  static final int MAX_SIDE = 1024;
  static final double MAX_ASPECT = 3.0;

  private static final ObjectMapper JSON = JsonMapper.builder().build();
  private static final double PNG_FRACTION = 0.1;

  private final long seed;
  private final SynthPlan plan;
  private final int samplesPerShard;
  private final String keyFormat;

  SampleFactory(long seed, SynthPlan plan, int samplesPerShard) {
    this.seed = seed;
    this.plan = plan;
    this.samplesPerShard = samplesPerShard;
    this.keyFormat = "%05d%0" + keyDigits(samplesPerShard) + "d";
  }

  /** Digits of the in-shard index in img2dataset keys: max(1, ceil(log10(samplesPerShard))). */
  static int keyDigits(int samplesPerShard) {
    return Math.max(1, Integer.toString(samplesPerShard - 1).length());
  }

  String key(int index) {
    return String.format(Locale.ROOT, keyFormat, index / samplesPerShard, index % samplesPerShard);
  }

  /** The generated sample and its defect ({@code null} when clean). */
  record Generated(Sample sample, Defect defect) {}

  /** Everything about a clean sample that is decided before pixels are drawn. */
  private record Draft(
      Scene scene, int width, int height, ImageFormat format, float quality, String caption) {}

  /** What ends up in the sample; starts as the clean draft and defects overwrite parts of it. */
  private static final class Parts {
    Scene scene;
    int width;
    int height;
    ImageFormat format;
    byte[] image;
    String caption;
    Map<String, Object> defect;
  }

  Generated create(int index) {
    Defect defect = plan.defect(index);
    SplittableRandom rng = Seeds.random(seed, index, Seeds.Purpose.DEFECT);
    Parts parts =
        defect != null && defect.needsSource()
            ? fromSource(plan.source(index), defect, rng)
            : fromDraft(index, defect, rng);
    if (defect != null && parts.defect == null) {
      parts.defect = defectJson(defect);
    }
    String key = key(index);
    Map<String, Object> synthetic = new LinkedHashMap<>();
    synthetic.put("generator", SynthGenerator.VERSION);
    synthetic.put("index", index);
    synthetic.put("scene", parts.scene.toJson());
    // "defect" names the defect (or is null), as DataComp-style filters expect a plain label;
    // what exactly was done is in "defectDetail".
    synthetic.put("defect", parts.defect == null ? null : parts.defect.get("type"));
    if (parts.defect != null && parts.defect.size() > 1) {
      Map<String, Object> detail = new LinkedHashMap<>(parts.defect);
      detail.remove("type");
      synthetic.put("defectDetail", detail);
    }
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("uid", uid(index));
    json.put("key", key);
    json.put("caption", parts.caption);
    json.put("width", parts.width);
    json.put("height", parts.height);
    json.put("synthetic", synthetic);

    Map<String, byte[]> members = new LinkedHashMap<>();
    members.put(parts.format.extension(), parts.image);
    members.put("txt", parts.caption.getBytes(StandardCharsets.UTF_8));
    members.put("json", toJson(json));
    return new Generated(Sample.of(key, members), defect);
  }

  private Parts fromDraft(int index, Defect defect, SplittableRandom rng) {
    Draft draft = draft(index);
    Parts parts = new Parts();
    parts.scene = draft.scene();
    parts.width = draft.width();
    parts.height = draft.height();
    parts.format = draft.format();
    parts.caption = draft.caption();
    if (defect == null) {
      parts.image = encode(draft, render(index, draft.scene(), draft.width(), draft.height()));
      return parts;
    }
    switch (defect) {
      case CORRUPT_IMAGE -> parts.image = draft.format().corrupt(rng);
      case BLANK_IMAGE -> {
        int rgb = rng.nextInt(1 << 24);
        parts.image = encode(draft, SceneRenderer.uniform(draft.width(), draft.height(), rgb));
        parts.defect = defectJson(defect);
        parts.defect.put("colour", String.format(Locale.ROOT, "#%06x", rgb));
      }
      case TINY_IMAGE -> {
        int shortSide = 8 + rng.nextInt(MIN_SIDE - 8);
        int longSide = (int) Math.round(shortSide * Seeds.uniform(rng, 1.0, 2.0));
        resize(parts, shortSide, longSide, rng.nextBoolean());
        parts.image = encode(draft, render(index, draft.scene(), parts.width, parts.height));
      }
      case EXTREME_ASPECT -> {
        int shortSide = MIN_SIDE + rng.nextInt(160);
        int longSide = (int) Math.round(shortSide * Seeds.uniform(rng, 4.0, 8.0));
        resize(parts, shortSide, longSide, rng.nextBoolean());
        parts.image = encode(draft, render(index, draft.scene(), parts.width, parts.height));
      }
      case MISMATCHED_CAPTION -> {
        SceneSampler.Mismatch mismatch = SceneSampler.mismatch(draft.scene(), rng);
        parts.caption = Captioner.caption(mismatch.scene(), rng);
        parts.defect = defectJson(defect);
        parts.defect.put("changed", mismatch.attribute());
        parts.defect.put("group", mismatch.group());
        parts.defect.put("from", mismatch.from());
        parts.defect.put("to", mismatch.to());
        parts.defect.put("captionScene", mismatch.scene().toJson());
      }
      case EMPTY_CAPTION -> parts.caption = "";
      case GARBAGE_CAPTION -> parts.caption = Captioner.garbage(rng);
      case EXACT_DUPLICATE, NEAR_DUPLICATE ->
          throw new IllegalStateException(defect + " is built from its source sample");
    }
    if (parts.image == null) {
      parts.image = encode(draft, render(index, draft.scene(), draft.width(), draft.height()));
    }
    return parts;
  }

  /** A copy of clean sample {@code source}: exact, or re-rendered resized or cropped. */
  private Parts fromSource(int source, Defect defect, SplittableRandom rng) {
    Draft draft = draft(source);
    BufferedImage image = render(source, draft.scene(), draft.width(), draft.height());
    Parts parts = new Parts();
    parts.scene = draft.scene();
    parts.caption = draft.caption();
    parts.defect = defectJson(defect);
    parts.defect.put("source", key(source));
    if (defect == Defect.EXACT_DUPLICATE) {
      parts.width = draft.width();
      parts.height = draft.height();
      parts.format = draft.format();
      parts.image = encode(draft, image);
      return parts;
    }
    BufferedImage changed;
    if (rng.nextBoolean()) {
      int shortSide = Math.min(draft.width(), draft.height());
      double scale = Math.max(Seeds.uniform(rng, 0.8, 0.95), (double) MIN_SIDE / shortSide);
      changed =
          scaled(
              image,
              Math.max(1, (int) Math.round(draft.width() * scale)),
              Math.max(1, (int) Math.round(draft.height() * scale)));
      parts.defect.put("change", "resize");
    } else {
      int left = (int) (draft.width() * Seeds.uniform(rng, 0.02, 0.06));
      int right = (int) (draft.width() * Seeds.uniform(rng, 0.02, 0.06));
      int top = (int) (draft.height() * Seeds.uniform(rng, 0.02, 0.06));
      int bottom = (int) (draft.height() * Seeds.uniform(rng, 0.02, 0.06));
      changed =
          copy(
              image.getSubimage(
                  left, top, draft.width() - left - right, draft.height() - top - bottom));
      parts.defect.put("change", "crop");
    }
    // Always a fresh JPEG at a lower quality than clean samples use: a real re-encode.
    float quality = (float) Seeds.uniform(rng, 0.55, 0.72);
    parts.width = changed.getWidth();
    parts.height = changed.getHeight();
    parts.format = ImageFormat.JPEG;
    parts.image = ImageFormat.JPEG.encode(changed, quality);
    return parts;
  }

  private Draft draft(int index) {
    SplittableRandom rng = Seeds.random(seed, index, Seeds.Purpose.CONTENT);
    Scene scene = SceneSampler.scene(rng);
    int shortSide = cleanShortSide(rng);
    double aspect = Math.exp(gaussian(rng) * 0.35);
    int longSide =
        (int)
            Math.min(MAX_ASPECT * shortSide, Math.round(shortSide * Math.max(aspect, 1 / aspect)));
    boolean landscape = rng.nextDouble() < 0.6;
    ImageFormat format = rng.nextDouble() < PNG_FRACTION ? ImageFormat.PNG : ImageFormat.JPEG;
    float quality = (float) Seeds.uniform(rng, 0.75, 0.95);
    String caption = Captioner.caption(scene, rng);
    int width = landscape ? longSide : shortSide;
    int height = landscape ? shortSide : longSide;
    return new Draft(scene, width, height, format, quality, caption);
  }

  /** Log-normal around 192 pixels: most images a few hundred pixels, a few up to 1024. */
  private static int cleanShortSide(SplittableRandom rng) {
    double side = Math.exp(Math.log(192) + 0.4 * gaussian(rng));
    return (int) Math.max(MIN_SIDE, Math.min(MAX_SIDE, Math.round(side)));
  }

  /** Box–Muller, written out so the values never depend on the JDK's own algorithm. */
  private static double gaussian(SplittableRandom rng) {
    double u1 = 1.0 - rng.nextDouble();
    double u2 = rng.nextDouble();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  private static void resize(Parts parts, int shortSide, int longSide, boolean landscape) {
    parts.width = landscape ? longSide : shortSide;
    parts.height = landscape ? shortSide : longSide;
  }

  private BufferedImage render(int index, Scene scene, int width, int height) {
    return SceneRenderer.render(
        scene, width, height, Seeds.random(seed, index, Seeds.Purpose.RENDER));
  }

  private static byte[] encode(Draft draft, BufferedImage image) {
    return draft.format().encode(image, draft.quality());
  }

  private static BufferedImage scaled(BufferedImage image, int width, int height) {
    BufferedImage out = SceneRenderer.newImage(width, height);
    Graphics2D g = out.createGraphics();
    try {
      g.setRenderingHint(
          RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
      g.drawImage(image, 0, 0, width, height, null);
    } finally {
      g.dispose();
    }
    return out;
  }

  private static BufferedImage copy(BufferedImage image) {
    return scaled(image, image.getWidth(), image.getHeight());
  }

  private String uid(int index) {
    SplittableRandom rng = Seeds.random(seed, index, Seeds.Purpose.UID);
    HexFormat hex = HexFormat.of();
    return hex.toHexDigits(rng.nextLong()) + hex.toHexDigits(rng.nextLong());
  }

  private static Map<String, Object> defectJson(Defect defect) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("type", defect.id());
    return json;
  }

  private static byte[] toJson(Map<String, Object> json) {
    try {
      return JSON.writeValueAsBytes(json);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("sample metadata could not be written as JSON", e);
    }
  }
}
