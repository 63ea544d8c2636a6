package dev.tessera.model.oracle;

import dev.tessera.engine.oracle.Torch;
import dev.tessera.model.config.ClipConfig;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRef;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * An independent CLIP written with libtorch ops, following Hugging Face's {@code CLIPModel}: the
 * patch embedding is a real stride-p {@code conv2d} without bias, the class token is concatenated
 * in front, attention is an explicit {@code softmax(q k^T / sqrt(d) + mask) v} with an additive
 * causal mask in the text tower, and the pooled text position is found with {@code argmax} as
 * Hugging Face finds it.
 */
public final class TorchClip {
  private final ClipConfig config;
  private final Map<String, Tensor> parameters = new LinkedHashMap<>();

  /** The reference over the towers' weights (from {@link TorchSiglip#randomize}). */
  public TorchClip(ClipConfig config, TorchSiglip.Weights... weights) {
    this.config = config;
    for (TorchSiglip.Weights part : weights) {
      part.values()
          .forEach(
              (name, values) ->
                  parameters.put(name, Torch.tensor(values, part.shapes().get(name))));
    }
  }

  /**
   * {@code get_image_features}.
   *
   * @param pixels [B, C, S, S]
   * @return [B, projectionDim]
   */
  public float[] imageEmbeds(float[] pixels, int batch) {
    ClipConfig.Vision vision = config.vision();
    int d = vision.hiddenSize();
    Tensor x = visionHidden(pixels, batch, vision.numHiddenLayers());
    Tensor pooled =
        layerNorm(x.select(1, 0), "vision_model.post_layernorm", vision.layerNormEps(), d);
    return Torch.values(torch.matmul(pooled, p("visual_projection.weight").t()));
  }

  /**
   * {@code CLIPVisionModel(pixels, output_hidden_states=True).hidden_states[layers]}.
   *
   * @return [B, 1 + numPatches, hidden]
   */
  public float[] visionHiddenState(float[] pixels, int batch, int layers) {
    return Torch.values(visionHidden(pixels, batch, layers));
  }

  private Tensor visionHidden(float[] pixels, int batch, int layers) {
    ClipConfig.Vision vision = config.vision();
    int s = vision.imageSize();
    int n = vision.numPatches();
    int d = vision.hiddenSize();
    String e = "vision_model.embeddings.";
    Tensor conv =
        torch.conv2d(
            Torch.tensor(pixels, batch, vision.numChannels(), s, s),
            p(e + "patch_embedding.weight"),
            new TensorOptional(),
            new long[] {vision.patchSize(), vision.patchSize()},
            new long[] {0, 0},
            new long[] {1, 1},
            1);
    Tensor patches = conv.reshape(batch, d, n).transpose(1, 2);
    Tensor classTokens = p(e + "class_embedding").reshape(1, 1, d).expand(batch, 1, d);
    Tensor x =
        torch
            .cat(new TensorArrayRef(new TensorVector(classTokens, patches)), 1)
            .add(p(e + "position_embedding.weight"));
    x = layerNorm(x, "vision_model.pre_layrnorm", vision.layerNormEps(), d);
    for (int l = 0; l < layers; l++) {
      x =
          encoderLayer(
              x,
              "vision_model.encoder.layers." + l + ".",
              batch,
              n + 1,
              d,
              vision.numAttentionHeads(),
              vision.layerNormEps(),
              vision.hiddenAct(),
              false);
    }
    return x;
  }

  /**
   * {@code get_text_features}.
   *
   * @param ids [batch, tokens] row-major
   * @return [B, projectionDim]
   */
  public float[] textEmbeds(int[] ids, int batch, int tokens) {
    ClipConfig.Text text = config.text();
    int d = text.hiddenSize();
    long[] index = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      index[i] = ids[i];
    }
    Tensor tokenIds = Torch.longs(index, batch, tokens);
    Tensor x =
        torch
            .embedding(p("text_model.embeddings.token_embedding.weight"), tokenIds)
            .add(p("text_model.embeddings.position_embedding.weight").narrow(0, 0, tokens));
    for (int l = 0; l < text.numHiddenLayers(); l++) {
      x =
          encoderLayer(
              x,
              "text_model.encoder.layers." + l + ".",
              batch,
              tokens,
              d,
              text.numAttentionHeads(),
              text.layerNormEps(),
              text.hiddenAct(),
              true);
    }
    x = layerNorm(x, "text_model.final_layer_norm", text.layerNormEps(), d);
    // HF: input_ids.argmax(-1) for the legacy eos_token_id 2, else the first eos position.
    Tensor positions =
        text.eosTokenId() == 2
            ? tokenIds.argmax(new LongOptional(1), false)
            : tokenIds
                .eq(new Scalar((long) text.eosTokenId()))
                .to(torch.ScalarType.Int)
                .argmax(new LongOptional(1), false);
    long[] at = new long[batch];
    new LongPointer(positions.contiguous().data_ptr()).get(at);
    TensorVector rows = new TensorVector();
    for (int b = 0; b < batch; b++) {
      rows.push_back(x.select(0, b).select(0, at[b]).reshape(1, d));
    }
    Tensor pooled = torch.cat(new TensorArrayRef(rows), 0);
    return Torch.values(torch.matmul(pooled, p("text_projection.weight").t()));
  }

  private Tensor encoderLayer(
      Tensor x,
      String prefix,
      int batch,
      int n,
      int d,
      int heads,
      double eps,
      String act,
      boolean causal) {
    Tensor h = layerNorm(x, prefix + "layer_norm1", eps, d);
    Tensor q = heads(linear(h, prefix + "self_attn.q_proj"), batch, n, heads, d);
    Tensor k = heads(linear(h, prefix + "self_attn.k_proj"), batch, n, heads, d);
    Tensor v = heads(linear(h, prefix + "self_attn.v_proj"), batch, n, heads, d);
    Tensor scores =
        torch.matmul(q, k.transpose(2, 3)).mul(new Scalar(1.0 / Math.sqrt(d / (double) heads)));
    if (causal) {
      float[] mask = new float[n * n];
      for (int t = 0; t < n; t++) {
        for (int s = t + 1; s < n; s++) {
          mask[t * n + s] = Float.NEGATIVE_INFINITY;
        }
      }
      scores = scores.add(Torch.tensor(mask, 1, 1, n, n));
    }
    Tensor attention =
        torch
            .matmul(torch.softmax(scores, -1, new ScalarTypeOptional()), v)
            .permute(0, 2, 1, 3)
            .reshape(batch, n, d);
    x = x.add(linear(attention, prefix + "self_attn.out_proj"));
    h = layerNorm(x, prefix + "layer_norm2", eps, d);
    return x.add(linear(activation(linear(h, prefix + "mlp.fc1"), act), prefix + "mlp.fc2"));
  }

  private static Tensor activation(Tensor x, String act) {
    return switch (act) {
      case "quick_gelu" -> x.mul(torch.sigmoid(x.mul(new Scalar(1.702))));
      case "gelu" -> torch.gelu(x);
      case "gelu_pytorch_tanh" -> torch.gelu(x, "tanh");
      default -> throw new IllegalArgumentException("no reference activation " + act);
    };
  }

  private Tensor p(String name) {
    Tensor tensor = parameters.get(name);
    if (tensor == null) {
      throw new IllegalArgumentException("no reference weight " + name);
    }
    return tensor;
  }

  private Tensor linear(Tensor x, String prefix) {
    return torch.matmul(x, p(prefix + ".weight").t()).add(p(prefix + ".bias"));
  }

  private Tensor layerNorm(Tensor x, String prefix, double eps, int d) {
    return torch.layer_norm(
        x,
        new long[] {d},
        new TensorOptional(p(prefix + ".weight")),
        new TensorOptional(p(prefix + ".bias")),
        eps,
        false);
  }

  private static Tensor heads(Tensor x, int batch, int tokens, int heads, int d) {
    return x.reshape(batch, tokens, heads, d / heads).permute(0, 2, 1, 3);
  }
}
