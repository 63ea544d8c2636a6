package dev.tessera.trainer.finetune;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.data.packed.HeldOut;
import dev.tessera.data.packed.PackedLoader;
import dev.tessera.engine.Backend;
import dev.tessera.model.siglip.SiglipImageProcessor;
import dev.tessera.model.text.CaptionLayout;
import dev.tessera.model.text.ChatTemplate;
import dev.tessera.model.text.QwenTokenizer;
import dev.tessera.model.vlm.ConversationBatch;
import dev.tessera.model.vlm.VisionLanguageModel;
import dev.tessera.trainer.pretrain.Checkpoints;
import dev.tessera.trainer.pretrain.PassedOver;
import dev.tessera.trainer.pretrain.TinyPreset;
import dev.tessera.trainer.pretrain.TrainingTask;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.imageio.ImageIO;

/**
 * Supervised fine-tuning (reference §3.3, §4.3): conversations in LLaVA's format laid out with
 * Open-Qwen2VL's chat template, loss on the assistant turns only, rows right-padded (no packing),
 * {@code imageTokens} visual tokens per image (729 = 27×27 in the reference), starting from a
 * pre-training checkpoint: its decoder, tower and projector weights, the projector now pooling to
 * the fine-tuning grid (its weights do not depend on the pool size). The tower stays frozen.
 */
public final class FinetuneTask implements TrainingTask {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The conversations trained on, and those held out to measure the loss on. */
  private final List<Conversations.Conversation> conversations;

  private final List<Conversations.Conversation> heldOut;
  private final QwenTokenizer tokenizer;
  private final ChatTemplate template;
  private final Path checkpoint;
  private final int imageTokens;
  private final int maxLength;
  private final long seed;
  private final ChatTemplate.ImageQuirk quirk;
  private final PrintWriter log;

  /** Held-out conversations whose image cannot be read (named in the log once). */
  private final Set<Integer> damagedHeldOut = ConcurrentHashMap.newKeySet();

  /**
   * @param init a pre-training run (its newest valid checkpoint, or with {@code bestInit} the best
   *     one it kept) or one of its checkpoints
   * @param evalSequences conversations held out of training to measure the loss on ({@link
   *     HeldOut}, the same draw as for packed sequences); 0 for none
   * @param log where each conversation passed over (its image cannot be read) is named
   * @throws IllegalArgumentException when {@code init} holds no usable checkpoint
   */
  public FinetuneTask(
      List<Conversations.Conversation> conversations,
      QwenTokenizer tokenizer,
      Path init,
      boolean bestInit,
      int imageTokens,
      int maxLength,
      long seed,
      ChatTemplate.ImageQuirk quirk,
      int evalSequences,
      PrintWriter log)
      throws IOException {
    this.log = log;
    if (conversations.isEmpty()) {
      throw new IllegalArgumentException("no conversations to fine-tune on");
    }
    HeldOut split;
    try {
      split = HeldOut.split(conversations.size(), evalSequences);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--eval-sequences " + evalSequences + ": " + e.getMessage(), e);
    }
    this.conversations = pick(conversations, split.training());
    this.heldOut = pick(conversations, split.evaluation());
    this.tokenizer = tokenizer;
    this.template = new ChatTemplate(tokenizer, quirk);
    this.imageTokens = imageTokens;
    this.maxLength = maxLength;
    this.seed = seed;
    this.quirk = quirk;
    if (Files.isRegularFile(init.resolve("model.safetensors"))) {
      if (bestInit) {
        throw new IllegalArgumentException(
            "--init-checkpoint best needs a run directory as --init, not the checkpoint " + init);
      }
      this.checkpoint = init;
    } else if (bestInit) {
      this.checkpoint = new Checkpoints(init).bestValid(log);
    } else {
      this.checkpoint =
          new Checkpoints(init)
              .latestValid(log)
              .orElseThrow(() -> new IllegalArgumentException("no valid checkpoint in " + init));
    }
  }

  private static List<Conversations.Conversation> pick(
      List<Conversations.Conversation> all, int[] indexes) {
    List<Conversations.Conversation> picked = new ArrayList<>(indexes.length);
    for (int index : indexes) {
      picked.add(all.get(index));
    }
    return List.copyOf(picked);
  }

  @Override
  public Map<String, Object> identity() {
    Map<String, Object> identity = new LinkedHashMap<>();
    identity.put("task", "finetune");
    identity.put("init", checkpoint.toAbsolutePath().normalize().toString());
    identity.put("imageTokens", imageTokens);
    identity.put("maxLength", maxLength);
    identity.put("imageQuirk", quirk.name().toLowerCase(Locale.ROOT));
    return identity;
  }

  @Override
  public VisionLanguageModel buildModel(Backend backend) throws IOException {
    int pooled = TinyPreset.pooledSide(imageTokens);
    VisionLanguageModel loaded;
    try {
      loaded = VisionLanguageModel.load(backend, checkpoint, pooled);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--image-tokens " + imageTokens + " pools to " + e.getMessage(), e);
    }
    if (tokenizer.vocabularySize() > loaded.decoder().config().vocabSize()) {
      throw new IllegalArgumentException(
          "the tokenizer has "
              + tokenizer.vocabularySize()
              + " ids but the checkpoint's decoder embeds only "
              + loaded.decoder().config().vocabSize());
    }
    return new VisionLanguageModel(loaded.tower(), loaded.projector(), loaded.decoder());
  }

  /** One example, laid out and with its image decoded. */
  private record Row(CaptionLayout.Sample sample, float[] pixels) {}

  /**
   * Rank {@code rank}'s examples: positions {@code r, r + R, …} of a stream of seeded epoch
   * shuffles (as {@link PackedLoader} orders packed sequences), tokenised and their images decoded
   * on two background threads up to {@code 2 × globalBatch / R} examples ahead.
   */
  @Override
  public RankData open(VisionLanguageModel model, int rank, int ranks, long position) {
    SiglipImageProcessor processor = SiglipImageProcessor.forTower(model.tower().config());
    int pad = tokenizer.specialId(QwenTokenizer.END_OF_TEXT);
    int count = conversations.size();
    int perImage = 3 * processor.size() * processor.size();
    ExecutorService workers =
        Executors.newFixedThreadPool(
            2,
            runnable -> {
              Thread thread = new Thread(runnable, "finetune-loader-" + rank);
              thread.setDaemon(true);
              return thread;
            });
    PassedOver passed =
        new PassedOver(
            rank, log, "conversations whose image cannot be read", "check the images they name");
    return new RankData() {
      private long next = position + Math.floorMod(rank - position, (long) ranks);
      private long submitted = next;
      private final ArrayDeque<Future<Row>> ahead = new ArrayDeque<>();
      private long permutationEpoch = -1;
      private int[] permutation;

      @Override
      public List<MicroBatch> nextStep(int sequences, int micro) throws IOException {
        while (ahead.size() < 2 * sequences) {
          Conversations.Conversation conversation = conversations.get(exampleAt(submitted));
          submitted += ranks;
          ahead.add(workers.submit(() -> row(processor, conversation)));
        }
        List<MicroBatch> batches = new ArrayList<>();
        for (int from = 0; from < sequences; from += micro) {
          List<Row> rows = new ArrayList<>();
          for (int i = from; i < Math.min(sequences, from + micro); i++) {
            long position = next;
            next += ranks;
            try {
              rows.add(take());
            } catch (IOException e) {
              // As for packed sequences: passed over, the same one again on resumption.
              passed.add("a conversation at stream position " + position + ": " + e.getMessage());
            }
          }
          if (!rows.isEmpty()) {
            batches.add(microBatch(rows, pad, perImage));
          }
        }
        return batches;
      }

      @Override
      public PassedOver passedOver() {
        return passed;
      }

      private Row take() throws IOException {
        try {
          return ahead.poll().get();
        } catch (ExecutionException e) {
          if (e.getCause() instanceof IOException io) {
            throw io;
          }
          throw new IOException("preparing a fine-tuning example failed: " + e.getCause(), e);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted while waiting for an example", e);
        }
      }

      // Called on the trainer's thread only, as positions are submitted in order.
      private int exampleAt(long globalPosition) {
        long epoch = globalPosition / count;
        if (epoch != permutationEpoch) {
          permutation = PackedLoader.permutation(seed, epoch, count);
          permutationEpoch = epoch;
        }
        return permutation[(int) (globalPosition % count)];
      }

      @Override
      public long nextPosition() {
        return next;
      }

      @Override
      public void close() {
        ahead.forEach(future -> future.cancel(false));
        workers.shutdown();
      }
    };
  }

  /** Held-out conversations {@code rank, rank + ranks, ...}, prepared on this thread. */
  @Override
  public List<MicroBatch> evaluation(VisionLanguageModel model, int rank, int ranks, int micro) {
    return batches(
        model,
        heldOut,
        TrainingTask.evaluationShare(heldOut.size(), rank, ranks, micro),
        (i, e) -> {
          // As for packed sequences: left out of every measurement, named once.
          if (damagedHeldOut.add(i)) {
            log.printf(
                "warning: rank %d leaves a held-out conversation out of the held-out loss: %s%n",
                rank, e.getMessage());
            log.flush();
          }
        });
  }

  /** Held-out conversations left out of the held-out loss so far (their image cannot be read). */
  public List<Integer> unreadableHeldOut() {
    return damagedHeldOut.stream().sorted().toList();
  }

  /** A conversation (its index in the list measured) whose image cannot be read. */
  public interface Unreadable {
    void accept(int index, IOException cause);
  }

  /**
   * The conversations this task would train on (every one when none are held out), {@code micro} at
   * a time, laid out as {@link #evaluation} lays out the held-out ones: what {@code evaluate}
   * measures without --held-out. Conversations whose image cannot be read are left out and given to
   * {@code unreadable}.
   */
  public List<MicroBatch> trainingBatches(
      VisionLanguageModel model, int micro, Unreadable unreadable) {
    return batches(
        model,
        conversations,
        TrainingTask.evaluationShare(conversations.size(), 0, 1, micro),
        unreadable);
  }

  /** {@code groups} of {@code list} (indexes into it) as micro-batches for a forward pass. */
  private List<MicroBatch> batches(
      VisionLanguageModel model,
      List<Conversations.Conversation> list,
      List<List<Integer>> groups,
      Unreadable unreadable) {
    SiglipImageProcessor processor = SiglipImageProcessor.forTower(model.tower().config());
    int pad = tokenizer.specialId(QwenTokenizer.END_OF_TEXT);
    int perImage = 3 * processor.size() * processor.size();
    List<MicroBatch> batches = new ArrayList<>();
    for (List<Integer> group : groups) {
      List<Row> rows = new ArrayList<>();
      for (int i : group) {
        try {
          rows.add(row(processor, list.get(i)));
        } catch (IOException e) {
          unreadable.accept(i, e);
        }
      }
      if (!rows.isEmpty()) {
        batches.add(microBatch(rows, pad, perImage));
      }
    }
    return batches;
  }

  /** Laid-out examples and their images as one decoder batch with the images' pixels. */
  private MicroBatch microBatch(List<Row> rows, int pad, int perImage) {
    List<CaptionLayout.Sample> examples = new ArrayList<>();
    List<float[]> images = new ArrayList<>();
    for (Row row : rows) {
      examples.add(row.sample());
      if (row.pixels() != null) {
        images.add(row.pixels());
      }
    }
    ConversationBatch batch = ConversationBatch.of(examples, imageTokens, pad, maxLength);
    float[] pixels = new float[images.size() * perImage];
    for (int i = 0; i < images.size(); i++) {
      System.arraycopy(images.get(i), 0, pixels, i * perImage, perImage);
    }
    return new MicroBatch(
        batch.batch(), batch.targets(), pixels, batch.images(), batch.realTokens());
  }

  private Row row(SiglipImageProcessor processor, Conversations.Conversation conversation)
      throws IOException {
    CaptionLayout.Sample sample = template.conversation(conversation.turns());
    return new Row(sample, conversation.image() == null ? null : pixels(processor, conversation));
  }

  private static float[] pixels(
      SiglipImageProcessor processor, Conversations.Conversation conversation) throws IOException {
    BufferedImage image = ImageIO.read(conversation.image().toFile());
    if (image == null) {
      throw new IOException(
          "example " + conversation.id() + ": " + conversation.image() + " cannot be decoded");
    }
    return processor.preprocess(image);
  }
}
