package dev.tessera.trainer.pretrain;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.packed.DamagedSequenceException;
import dev.tessera.data.packed.HeldOut;
import dev.tessera.data.packed.PackedLayout;
import dev.tessera.data.packed.PackedLoader;
import dev.tessera.data.packed.PackedSequence;
import dev.tessera.data.packed.PackedShards;
import dev.tessera.engine.Backend;
import dev.tessera.engine.ops.AttentionMask;
import dev.tessera.model.config.Qwen2Config;
import dev.tessera.model.config.SiglipVisionConfig;
import dev.tessera.model.io.SafetensorsDirectory;
import dev.tessera.model.siglip.SiglipImageProcessor;
import dev.tessera.model.vlm.PackedBatch;
import dev.tessera.model.vlm.VisionLanguageModel;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;
import javax.imageio.ImageIO;

/**
 * Pre-training on a packed set: the tiny preset (or Hugging Face decoder and tower) sized by the
 * data's layout, and each rank's share of the seeded {@link PackedLoader} stream as {@link
 * PackedBatch}es.
 */
final class PretrainTask implements TrainingTask {
  private static final String CONFIG = "config.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final PretrainOptions options;
  private final PackedShards shards;
  private final PackedLayout layout;
  private final PrintWriter log;

  /** The sequences trained on and those held out, or null when nothing is held out. */
  private final HeldOut heldOut;

  /** Held-out sequences that could not be read or decoded (named in the log once). */
  private final Set<Integer> damagedHeldOut = ConcurrentHashMap.newKeySet();

  /**
   * @param log where each damaged sequence passed over is named
   */
  PretrainTask(PretrainOptions options, PackedShards shards, PrintWriter log) {
    this.options = options;
    this.shards = shards;
    this.log = log;
    this.layout = shards.layout();
    try {
      this.heldOut =
          options.evalSequences() > 0
              ? HeldOut.split(shards.sequenceCount(), options.evalSequences())
              : null;
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--eval-sequences " + options.evalSequences() + ": " + e.getMessage(), e);
    }
  }

  @Override
  public Map<String, Object> identity() {
    return Map.of("task", "pretrain");
  }

  /**
   * The model, its weights seeded at random or loaded from {@code --init-llm} and {@code
   * --init-vision} (the projector always starts at random, as in the reference's first stage).
   */
  @Override
  public VisionLanguageModel buildModel(Backend backend) throws IOException {
    Qwen2Config llm = null;
    SiglipVisionConfig vision = null;
    if (options.modelConfig() != null) {
      JsonNode config = JSON.readTree(options.modelConfig().toFile());
      String source = options.modelConfig().toString();
      if (config.has("text_config")) {
        llm = Qwen2Config.parse(config.get("text_config").toString(), source + " text_config");
      }
      if (config.has("vision_config")) {
        vision =
            SiglipVisionConfig.parse(
                config.get("vision_config").toString(), source + " vision_config");
      }
      if (llm == null && vision == null) {
        throw new IllegalArgumentException(source + " has neither text_config nor vision_config");
      }
    }
    if (options.initLlm() != null) {
      if (llm != null) {
        throw new IllegalArgumentException(
            "--model-config and --init-llm both configure the decoder; give one");
      }
      llm = Qwen2Config.read(options.initLlm().resolve(CONFIG));
    }
    if (options.initVision() != null) {
      if (vision != null) {
        throw new IllegalArgumentException(
            "--model-config and --init-vision both configure the tower; give one");
      }
      vision = SiglipVisionConfig.read(options.initVision().resolve(CONFIG));
    }
    VisionLanguageModel model = TinyPreset.build(backend, layout, llm, vision);
    model.tower().parameters().initialise(3 * options.seed() + 1, 0.2);
    model.projector().parameters().initialise(3 * options.seed() + 2, 0.1);
    model.decoder().parameters().initialise(3 * options.seed() + 3, 0.05);
    if (options.initLlm() != null) {
      try (SafetensorsDirectory weights = SafetensorsDirectory.open(options.initLlm())) {
        model.decoder().parameters().load(weights);
      }
    }
    if (options.initVision() != null) {
      try (SafetensorsDirectory weights = SafetensorsDirectory.open(options.initVision())) {
        model.tower().parameters().load(weights);
      }
    }
    return model;
  }

  @Override
  public RankData open(VisionLanguageModel model, int rank, int ranks, long position) {
    int perRank = options.globalBatch() / ranks;
    SiglipImageProcessor processor = SiglipImageProcessor.forTower(model.tower().config());
    PackedLoader<float[]> loader =
        PackedLoader.open(
            shards,
            new PackedLoader.Options(options.seed(), rank, ranks, 2 * perRank, 2),
            bytes -> pixels(processor, bytes),
            position,
            heldOut == null ? null : heldOut.training());
    PassedOver passed =
        new PassedOver(
            rank,
            log,
            "damaged packed sequences",
            "check the set with `tessera-curator inspect " + shards.dir() + " --decode-images`");
    return new RankData() {
      @Override
      public List<MicroBatch> nextStep(int sequences, int micro) throws IOException {
        List<MicroBatch> batches = new ArrayList<>();
        for (int from = 0; from < sequences; from += micro) {
          List<PackedSequence> rows = new ArrayList<>();
          List<float[]> images = new ArrayList<>();
          for (int i = from; i < Math.min(sequences, from + micro); i++) {
            PackedLoader.Item<float[]> item;
            try {
              item = loader.next();
            } catch (DamagedSequenceException e) {
              // Passed over: its micro-batch has a row less, and the loss is the mean over the
              // step's targets, whatever rows they came in. The same sequence is passed over
              // when the run resumes, so training stays reproducible.
              passed.add("a damaged sequence: " + e.getMessage());
              continue;
            }
            rows.add(item.sequence());
            images.addAll(item.images());
          }
          if (!rows.isEmpty()) {
            batches.add(microBatch(rows, images, processor, layout, options.attention()));
          }
        }
        return batches;
      }

      @Override
      public PassedOver passedOver() {
        return passed;
      }

      @Override
      public long nextPosition() {
        return loader.nextPosition();
      }

      @Override
      public void close() {
        loader.close();
      }
    };
  }

  /** Held-out sequences {@code rank, rank + ranks, ...}, read and decoded on this thread. */
  @Override
  public List<MicroBatch> evaluation(VisionLanguageModel model, int rank, int ranks, int micro)
      throws IOException {
    if (heldOut == null) {
      return List.of();
    }
    // Read again at each measurement rather than kept: decoded, a few hundred held-out
    // sequences of a full-size run would hold gigabytes of pixels between measurements.
    SiglipImageProcessor processor = SiglipImageProcessor.forTower(model.tower().config());
    return batches(
        shards,
        options.attention(),
        processor,
        heldOut.evaluation(),
        rank,
        ranks,
        micro,
        (sequence, e) -> {
          // Left out of every measurement, so that they stay comparable; a damaged held-out
          // sequence must not fail the run at each evaluation.
          if (damagedHeldOut.add(sequence)) {
            log.printf(
                "warning: rank %d leaves damaged held-out sequence %d out of the held-out loss:"
                    + " %s%n",
                rank, sequence, e.getMessage());
            log.flush();
          }
        });
  }

  /**
   * Sequences {@code sequences[i]} of this rank's share ({@link TrainingTask#evaluationShare}),
   * read and decoded on this thread, in micro-batches of at most {@code micro} rows. One that
   * cannot be read or decoded is handed to {@code damaged} and left out.
   */
  static List<MicroBatch> batches(
      PackedShards shards,
      AttentionMask attention,
      SiglipImageProcessor processor,
      int[] sequences,
      int rank,
      int ranks,
      int micro,
      BiConsumer<Integer, Exception> damaged) {
    List<MicroBatch> batches = new ArrayList<>();
    for (List<Integer> group : TrainingTask.evaluationShare(sequences.length, rank, ranks, micro)) {
      List<PackedSequence> rows = new ArrayList<>();
      List<float[]> images = new ArrayList<>();
      for (int i : group) {
        PackedSequence sequence;
        List<float[]> decoded = new ArrayList<>();
        try {
          sequence = shards.read(sequences[i]);
          for (ByteBuffer image : sequence.images()) {
            decoded.add(pixels(processor, image.asReadOnlyBuffer()));
          }
        } catch (IOException | RuntimeException e) {
          damaged.accept(sequences[i], e);
          continue;
        }
        rows.add(sequence);
        images.addAll(decoded);
      }
      if (!rows.isEmpty()) {
        batches.add(microBatch(rows, images, processor, shards.layout(), attention));
      }
    }
    return batches;
  }

  /** Packed rows and their decoded images as one decoder batch with the images' pixels. */
  static MicroBatch microBatch(
      List<PackedSequence> rows,
      List<float[]> images,
      SiglipImageProcessor processor,
      PackedLayout layout,
      AttentionMask attention) {
    int perImage = 3 * processor.size() * processor.size();
    PackedBatch batch = PackedBatch.of(rows, layout, attention);
    float[] pixels = new float[images.size() * perImage];
    for (int i = 0; i < images.size(); i++) {
      System.arraycopy(images.get(i), 0, pixels, i * perImage, perImage);
    }
    long tokens = rows.stream().mapToLong(PackedSequence::length).sum();
    return new MicroBatch(batch.batch(), batch.targets(), pixels, images.size(), tokens);
  }

  /** Decodes and preprocesses one stored image; runs on the loader's threads. */
  static float[] pixels(SiglipImageProcessor processor, ByteBuffer bytes) {
    byte[] copy = new byte[bytes.remaining()];
    bytes.duplicate().get(copy);
    try {
      var image = ImageIO.read(new ByteArrayInputStream(copy));
      if (image == null) {
        throw new IOException("a packed image cannot be decoded");
      }
      return processor.preprocess(image);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
