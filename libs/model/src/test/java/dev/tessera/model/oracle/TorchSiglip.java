package dev.tessera.model.oracle;

import dev.tessera.engine.oracle.Torch;
import dev.tessera.model.Parameters;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * An independent SigLIP vision tower written with libtorch ops, following Hugging Face's {@code
 * SiglipVisionModel}: the patch embedding is a real stride-p {@code conv2d}, attention is an
 * explicit {@code softmax(q k^T / sqrt(d)) v}, the MLP uses {@code gelu(approximate="tanh")}.
 */
public final class TorchSiglip {

  /** Sizes of the tower. */
  public record Shape(
      int channels, int imageSize, int patch, int hidden, int heads, int layers, double eps) {
    public int side() {
      return imageSize / patch;
    }

    public int headDim() {
      return hidden / heads;
    }
  }

  private final Shape shape;
  private final Map<String, Tensor> parameters = new LinkedHashMap<>();

  /** Weights by Hugging Face name and their shapes, as the towers hold them. */
  public record Weights(Map<String, float[]> values, Map<String, long[]> shapes) {}

  /**
   * Fills every tensor of {@code parameters} with random values (norm weights around 1, biases
   * non-zero) and returns them for the reference.
   */
  public static Weights randomize(Parameters parameters, Random random) {
    Map<String, float[]> values = new LinkedHashMap<>();
    Map<String, long[]> shapes = new LinkedHashMap<>();
    parameters
        .values()
        .forEach(
            (name, tensor) -> {
              float[] data = Torch.randn(random, tensor.intSize(), 0.2);
              if (name.contains("norm") && name.endsWith(".weight")) {
                for (int i = 0; i < data.length; i++) {
                  data[i] += 1f;
                }
              }
              tensor.backend().copyFromHost(data, tensor);
              values.put(name, data);
              shapes.put(name, Arrays.stream(tensor.shape()).asLongStream().toArray());
            });
    return new Weights(values, shapes);
  }

  /** The reference over several towers' weights together. */
  public TorchSiglip(Shape shape, Weights... weights) {
    this.shape = shape;
    for (Weights part : weights) {
      part.values()
          .forEach(
              (name, values) ->
                  parameters.put(name, Torch.tensor(values, part.shapes().get(name))));
    }
  }

  /**
   * HF's {@code hidden_states}: element 0 is the embeddings, element l the output of layer l-1,
   * followed by one more element, the post-layernormed last hidden state.
   *
   * @param pixels [B, C, S, S]
   */
  public List<float[]> hiddenStates(float[] pixels, int batch) {
    int s = shape.imageSize();
    int n = shape.side() * shape.side();
    int d = shape.hidden();
    String e = "vision_model.embeddings.";
    Tensor conv =
        torch.conv2d(
            Torch.tensor(pixels, batch, shape.channels(), s, s),
            p(e + "patch_embedding.weight"),
            new TensorOptional(p(e + "patch_embedding.bias")),
            new long[] {shape.patch(), shape.patch()},
            new long[] {0, 0},
            new long[] {1, 1},
            1);
    Tensor x = conv.reshape(batch, d, n).transpose(1, 2).add(p(e + "position_embedding.weight"));
    List<float[]> states = new ArrayList<>();
    states.add(Torch.values(x));
    for (int l = 0; l < shape.layers(); l++) {
      x = encoderLayer(x, "vision_model.encoder.layers." + l + ".", batch, n);
      states.add(Torch.values(x));
    }
    states.add(Torch.values(layerNorm(x, "vision_model.post_layernorm")));
    return states;
  }

  /**
   * HF's {@code pooler_output}: the attention-pooling head ({@code nn.MultiheadAttention} of the
   * probe over the post-layernormed last hidden state, out_proj, then {@code x +
   * mlp(layernorm(x))}).
   *
   * @param pixels [B, C, S, S]
   * @return [B, hidden]
   */
  public float[] pooled(float[] pixels, int batch) {
    List<float[]> states = hiddenStates(pixels, batch);
    int n = shape.side() * shape.side();
    int d = shape.hidden();
    Tensor x = Torch.tensor(states.get(states.size() - 1), batch, n, d);
    String head = "vision_model.head.";
    Tensor w = p(head + "attention.in_proj_weight");
    Tensor b = p(head + "attention.in_proj_bias");
    Tensor q =
        torch.matmul(p(head + "probe"), w.narrow(0, 0, d).t()).add(b.narrow(0, 0, d)); // [1, 1, d]
    Tensor k = torch.matmul(x, w.narrow(0, d, d).t()).add(b.narrow(0, d, d));
    Tensor v = torch.matmul(x, w.narrow(0, 2L * d, d).t()).add(b.narrow(0, 2L * d, d));
    Tensor scores =
        torch
            .matmul(heads(q, 1, 1), heads(k, batch, n).transpose(2, 3))
            .mul(new Scalar(1.0 / Math.sqrt(shape.headDim())));
    Tensor attended =
        torch
            .matmul(torch.softmax(scores, -1, new ScalarTypeOptional()), heads(v, batch, n))
            .permute(0, 2, 1, 3)
            .reshape(batch, 1, d);
    Tensor out = linear(attended, head + "attention.out_proj");
    Tensor mlp =
        linear(
            torch.gelu(linear(layerNorm(out, head + "layernorm"), head + "mlp.fc1"), "tanh"),
            head + "mlp.fc2");
    return Torch.values(out.add(mlp).reshape(batch, d));
  }

  /** One pre-norm encoder layer (weights under {@code prefix}) over x [batch, n, hidden]. */
  private Tensor encoderLayer(Tensor x, String prefix, int batch, int n) {
    int d = shape.hidden();
    Tensor h = layerNorm(x, prefix + "layer_norm1");
    Tensor q = heads(linear(h, prefix + "self_attn.q_proj"), batch, n);
    Tensor k = heads(linear(h, prefix + "self_attn.k_proj"), batch, n);
    Tensor v = heads(linear(h, prefix + "self_attn.v_proj"), batch, n);
    Tensor scores =
        torch.matmul(q, k.transpose(2, 3)).mul(new Scalar(1.0 / Math.sqrt(shape.headDim())));
    Tensor attention =
        torch
            .matmul(torch.softmax(scores, -1, new ScalarTypeOptional()), v)
            .permute(0, 2, 1, 3)
            .reshape(batch, n, d);
    x = x.add(linear(attention, prefix + "self_attn.out_proj"));
    h = layerNorm(x, prefix + "layer_norm2");
    return x.add(linear(torch.gelu(linear(h, prefix + "mlp.fc1"), "tanh"), prefix + "mlp.fc2"));
  }

  /**
   * HF {@code SiglipTextModel}'s {@code pooler_output}, for a text tower of this shape's hidden
   * size, heads and eps: embeddings by index, {@code textLayers} encoder layers with no mask, the
   * final layernorm, the last position through the head.
   *
   * @param ids [batch, tokens] row-major
   */
  public float[] textEmbedding(int[] ids, int batch, int tokens, int textLayers) {
    long[] index = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      index[i] = ids[i];
    }
    Tensor tokenIds = Torch.longs(index, batch, tokens);
    Tensor x =
        torch
            .embedding(p("text_model.embeddings.token_embedding.weight"), tokenIds)
            .add(p("text_model.embeddings.position_embedding.weight").narrow(0, 0, tokens));
    for (int l = 0; l < textLayers; l++) {
      x = encoderLayer(x, "text_model.encoder.layers." + l + ".", batch, tokens);
    }
    x = layerNorm(x, "text_model.final_layer_norm");
    Tensor last = x.narrow(1, tokens - 1, 1).reshape(batch, shape.hidden());
    return Torch.values(linear(last, "text_model.head"));
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

  private Tensor layerNorm(Tensor x, String prefix) {
    return torch.layer_norm(
        x,
        new long[] {shape.hidden()},
        new TensorOptional(p(prefix + ".weight")),
        new TensorOptional(p(prefix + ".bias")),
        shape.eps(),
        false);
  }

  private Tensor heads(Tensor x, int batch, int tokens) {
    return x.reshape(batch, tokens, shape.heads(), shape.headDim()).permute(0, 2, 1, 3);
  }
}
