// Per-token ops: embedding, RoPE, adaptive average pooling and the fused cross-entropy.

// out[t, c] = table[ids[t], c]; one thread per element.
extern "C" __global__ void embedding_forward(const float* table, const int* ids, float* out, int tokens,
                                             int cols) {
  long total = (long)tokens * cols;
  for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x) {
    int t = (int)(i / cols);
    int c = (int)(i % cols);
    out[i] = table[(long)ids[t] * cols + c];
  }
}

// dtable[ids[t], c] += dout[t, c]; tokens sharing an id add atomically.
extern "C" __global__ void embedding_backward(float* dtable, const int* ids, const float* dout, int tokens,
                                              int cols) {
  long total = (long)tokens * cols;
  for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x) {
    int t = (int)(i / cols);
    int c = (int)(i % cols);
    atomicAdd(&dtable[(long)ids[t] * cols + c], dout[i]);
  }
}

// RoPE, rotate-half convention over [T, H, D]: one thread per (token, head, i < D/2) owns the pair
// (i, i + D/2), so target may be source. cos/sin are [maxPositions, D/2].
// inverseAccumulate == 0: target = R source; != 0: target += R^T source.
extern "C" __global__ void rope_apply(float* target, const float* source, const int* positions,
                                      const float* cosTable, const float* sinTable, int tokens, int heads,
                                      int headDim, int inverseAccumulate) {
  int half = headDim / 2;
  long total = (long)tokens * heads * half;
  for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x) {
    int k = (int)(i % half);
    long th = i / half;  // token * heads + head
    int token = (int)(th / heads);
    long base = th * headDim;
    long angle = (long)positions[token] * half + k;
    float c = cosTable[angle];
    float s = sinTable[angle];
    float x1 = source[base + k];
    float x2 = source[base + half + k];
    if (inverseAccumulate) {
      target[base + k] += x1 * c + x2 * s;
      target[base + half + k] += x2 * c - x1 * s;
    } else {
      target[base + k] = x1 * c - x2 * s;
      target[base + half + k] = x2 * c + x1 * s;
    }
  }
}

static __device__ __forceinline__ int ts_pool_start(int i, int in, int out) { return (int)((long)i * in / out); }
static __device__ __forceinline__ int ts_pool_end(int i, int in, int out) {
  return (int)(((long)(i + 1) * in + out - 1) / out);
}

// out [B, oh*ow, C] = mean over each bin of inp [B, h*w, C]; one thread per output element.
extern "C" __global__ void avgpool_forward(const float* in, float* out, int batch, int height, int width,
                                           int outHeight, int outWidth, int channels) {
  long total = (long)batch * outHeight * outWidth * channels;
  for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x) {
    int k = (int)(i % channels);
    long cell = i / channels;
    int oj = (int)(cell % outWidth);
    int oi = (int)((cell / outWidth) % outHeight);
    int b = (int)(cell / ((long)outWidth * outHeight));
    int h0 = ts_pool_start(oi, height, outHeight), h1 = ts_pool_end(oi, height, outHeight);
    int w0 = ts_pool_start(oj, width, outWidth), w1 = ts_pool_end(oj, width, outWidth);
    float sum = 0.f;
    for (int r = h0; r < h1; r++)
      for (int c = w0; c < w1; c++) sum += in[(((long)b * height + r) * width + c) * channels + k];
    out[i] = sum * (1.f / ((h1 - h0) * (w1 - w0)));
  }
}

// dinp += dout / bin size over every bin covering the input element; one thread per input element.
extern "C" __global__ void avgpool_backward(float* dinp, const float* dout, int batch, int height, int width,
                                            int outHeight, int outWidth, int channels) {
  long total = (long)batch * height * width * channels;
  for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x) {
    int k = (int)(i % channels);
    long cell = i / channels;
    int col = (int)(cell % width);
    int r = (int)((cell / width) % height);
    int b = (int)(cell / ((long)width * height));
    float sum = 0.f;
    for (int oi = 0; oi < outHeight; oi++) {
      int h0 = ts_pool_start(oi, height, outHeight), h1 = ts_pool_end(oi, height, outHeight);
      if (r < h0 || r >= h1) continue;
      for (int oj = 0; oj < outWidth; oj++) {
        int w0 = ts_pool_start(oj, width, outWidth), w1 = ts_pool_end(oj, width, outWidth);
        if (col < w0 || col >= w1) continue;
        float scale = 1.f / ((h1 - h0) * (w1 - w0));
        sum += dout[(((long)b * outHeight + oi) * outWidth + oj) * channels + k] * scale;
      }
    }
    dinp[i] += sum;
  }
}

// Cross-entropy fused with its gradient, one block per row of logits [N, V]:
// rowLoss[row] = logsumexp(x) - x[target]; dlogits = (softmax(x) - onehot(target)) * lossScale.
// Rows whose target is ignoreIndex get zero gradient and zero loss. dlogits may alias logits.
// dlogits16, when not null, receives a bf16 copy of dlogits; dlogits may then be null.
extern "C" __global__ void cross_entropy_forward_backward(const float* logits, float* dlogits,
                                                          const int* targets, float* rowLoss, int vocab,
                                                          float lossScale, int ignoreIndex,
                                                          unsigned short* dlogits16) {
  long base = (long)blockIdx.x * vocab;
  int target = targets[blockIdx.x];
  if (target == ignoreIndex) {
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
      if (dlogits != nullptr) dlogits[base + i] = 0.f;
      if (dlogits16 != nullptr) dlogits16[base + i] = 0;
    }
    if (threadIdx.x == 0) rowLoss[blockIdx.x] = 0.f;
    return;
  }
  float mx = TS_NEG_INF;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) mx = fmaxf(mx, logits[base + i]);
  mx = ts_block_max(mx);
  float sum = 0.f;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) sum += expf(logits[base + i] - mx);
  sum = ts_block_sum(sum);
  // Everyone has read logits[target] (the only element read by another thread) before it is overwritten:
  float targetLogit = logits[base + target];
  __syncthreads();
  if (threadIdx.x == 0) rowLoss[blockIdx.x] = mx + logf(sum) - targetLogit;
  float scale = lossScale / sum;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    float g = expf(logits[base + i] - mx) * scale;
    if (i == target) g -= lossScale;
    if (dlogits != nullptr) dlogits[base + i] = g;
    if (dlogits16 != nullptr) dlogits16[base + i] = ts_float_to_bf16(g);
  }
}
