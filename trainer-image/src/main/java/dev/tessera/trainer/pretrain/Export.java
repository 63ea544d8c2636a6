package dev.tessera.trainer.pretrain;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.tessera.data.io.AtomicFiles;
import dev.tessera.engine.DType;
import dev.tessera.model.io.SafetensorsFile;
import dev.tessera.model.io.SafetensorsWriter;
import dev.tessera.model.io.TensorInfo;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Writes a checkpoint's model as plain Hugging Face directories:
 *
 * <pre>
 * OUT/config.json, model.safetensors   the whole model (text_config, vision_config, projector)
 * OUT/llm/                             the decoder alone: a Qwen2ForCausalLM directory
 * OUT/vision/                          the tower alone: a SiglipVisionModel directory
 * OUT/projector.safetensors            the projector's weights (projector.0.*, projector.2.*)
 * </pre>
 *
 * Tensors keep their Hugging Face names; the parts are told apart by prefix ({@code vision_model.},
 * {@code projector.}, the rest is the decoder). Written under {@code OUT.partial} and renamed when
 * complete.
 */
public final class Export {
  private static final ObjectMapper JSON =
      JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

  private Export() {}

  /**
   * Exports {@code from} — a checkpoint directory, or a run directory (its newest valid checkpoint)
   * — to {@code out}.
   *
   * @param dtype {@link DType#F32} (exact) or {@link DType#BF16} (half the size)
   * @return the checkpoint exported
   */
  public static Path export(Path from, Path out, DType dtype, PrintWriter log) throws IOException {
    Path checkpoint = from;
    if (!Files.isRegularFile(from.resolve(Pretrainer.WEIGHTS))) {
      checkpoint =
          new Checkpoints(from)
              .latestValid(log)
              .orElseThrow(() -> new IllegalArgumentException("no valid checkpoint in " + from));
    } else {
      String problem = Checkpoints.problem(from);
      if (problem != null) {
        throw new IllegalArgumentException("checkpoint " + from + " is not usable: " + problem);
      }
    }
    if (Files.exists(out)) {
      try (Stream<Path> entries = Files.list(out)) {
        if (entries.findAny().isPresent()) {
          throw new IllegalArgumentException(out + " exists and is not empty");
        }
      }
    }
    Path configFile = checkpoint.resolve(Pretrainer.CONFIG);
    if (!Files.isRegularFile(configFile)) {
      throw new IllegalArgumentException(checkpoint + " has no config.json");
    }
    JsonNode config = JSON.readTree(configFile.toFile());

    Path partial = out.resolveSibling(out.getFileName() + AtomicFiles.IN_PROGRESS_SUFFIX);
    AtomicFiles.deleteRecursively(partial);
    Files.createDirectories(partial.resolve("llm"));
    Files.createDirectories(partial.resolve("vision"));
    SafetensorsWriter whole = new SafetensorsWriter().metadata("format", "pt");
    SafetensorsWriter llm = new SafetensorsWriter().metadata("format", "pt");
    SafetensorsWriter vision = new SafetensorsWriter().metadata("format", "pt");
    SafetensorsWriter projector = new SafetensorsWriter().metadata("format", "pt");
    try (SafetensorsFile weights = SafetensorsFile.open(checkpoint.resolve(Pretrainer.WEIGHTS))) {
      Map<String, TensorInfo> sorted = new TreeMap<>();
      for (TensorInfo info : weights.tensors()) {
        sorted.put(info.name(), info);
      }
      for (TensorInfo info : sorted.values()) {
        long[] dims = info.shape();
        int[] shape = new int[dims.length];
        for (int i = 0; i < dims.length; i++) {
          shape[i] = Math.toIntExact(dims[i]);
        }
        float[] values = weights.readFloats(info.name());
        whole.add(info.name(), dtype, shape, values);
        SafetensorsWriter part =
            info.name().startsWith("vision_model.")
                ? vision
                : info.name().startsWith("projector.") ? projector : llm;
        part.add(info.name(), dtype, shape, values);
      }
    }
    whole.write(partial.resolve("model.safetensors"));
    llm.write(partial.resolve("llm/model.safetensors"));
    vision.write(partial.resolve("vision/model.safetensors"));
    projector.write(partial.resolve("projector.safetensors"));
    String torchDtype = dtype == DType.BF16 ? "bfloat16" : "float32";
    ((com.fasterxml.jackson.databind.node.ObjectNode) config.path("text_config"))
        .put("torch_dtype", torchDtype);
    AtomicFiles.write(partial.resolve("config.json"), JSON.writeValueAsBytes(config));
    AtomicFiles.write(
        partial.resolve("llm/config.json"), JSON.writeValueAsBytes(config.path("text_config")));
    AtomicFiles.write(
        partial.resolve("vision/config.json"),
        JSON.writeValueAsBytes(config.path("vision_config")));
    Files.deleteIfExists(out);
    Files.move(partial, out, StandardCopyOption.ATOMIC_MOVE);
    return checkpoint;
  }
}
