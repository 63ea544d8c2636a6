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
// mode 0: target = R source; 1: target += R^T source; 2: target = R^T source (a first gradient
// written over whatever target held, with no zero fill before).
extern "C" __global__ void rope_apply(float* target, const float* source, const int* positions,
                                      const float* cosTable, const float* sinTable, int tokens, int heads,
                                      int headDim, int mode) {
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
    if (mode == 1) {
      target[base + k] += x1 * c + x2 * s;
      target[base + half + k] += x2 * c - x1 * s;
    } else if (mode == 2) {
      // As accumulating into zeros: 0 + (...) rounds the same.
      target[base + k] = x1 * c + x2 * s;
      target[base + half + k] = x2 * c - x1 * s;
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
// Two passes over the row: the maximum and the sum of exponentials together (the sum rescaled when
// the maximum grows), then the gradient. vec: vocab % 4 == 0 and the fp32 pointers 16-byte
// aligned (the bf16 one 8-byte), so rows are read and written four values at a time.
extern "C" __global__ void cross_entropy_forward_backward(const float* logits, float* dlogits,
                                                          const int* targets, float* rowLoss, int vocab,
                                                          float lossScale, int ignoreIndex,
                                                          unsigned short* dlogits16, int vec) {
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
  const float* x = logits + base;
  float mx = TS_NEG_INF;
  float sum = 0.f;
  if (vec) {
    const float4* x4 = (const float4*)x;
    for (int i = threadIdx.x; i < vocab / 4; i += blockDim.x) {
      float4 v = x4[i];
      float m4 = fmaxf(fmaxf(v.x, v.y), fmaxf(v.z, v.w));
      if (m4 > mx) {
        sum *= expf(mx - m4);
        mx = m4;
      }
      sum += expf(v.x - mx) + expf(v.y - mx) + expf(v.z - mx) + expf(v.w - mx);
    }
  } else {
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
      float v = x[i];
      if (v > mx) {
        sum *= expf(mx - v);
        mx = v;
      }
      sum += expf(v - mx);
    }
  }
  float rowMax = ts_block_max(mx);
  // A thread that saw no value (mx still -inf) adds nothing.
  sum = ts_block_sum(mx == TS_NEG_INF ? 0.f : sum * expf(mx - rowMax));
  mx = rowMax;
  // Everyone has read logits[target] (the only element read by another thread) before it is overwritten:
  float targetLogit = x[target];
  __syncthreads();
  if (threadIdx.x == 0) rowLoss[blockIdx.x] = mx + logf(sum) - targetLogit;
  float scale = lossScale / sum;
  if (vec) {
    const float4* x4 = (const float4*)x;
    for (int i = threadIdx.x; i < vocab / 4; i += blockDim.x) {
      float4 v = x4[i];
      float4 g = make_float4(expf(v.x - mx) * scale, expf(v.y - mx) * scale, expf(v.z - mx) * scale,
                             expf(v.w - mx) * scale);
      int t = target - 4 * i;
      if (t == 0) g.x -= lossScale;
      if (t == 1) g.y -= lossScale;
      if (t == 2) g.z -= lossScale;
      if (t == 3) g.w -= lossScale;
      if (dlogits != nullptr) ((float4*)(dlogits + base))[i] = g;
      if (dlogits16 != nullptr) ((uint2*)(dlogits16 + base))[i] = ts_pack_bf16x4(g);
    }
  } else {
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
      float g = expf(x[i] - mx) * scale;
      if (i == target) g -= lossScale;
      if (dlogits != nullptr) dlogits[base + i] = g;
      if (dlogits16 != nullptr) dlogits16[base + i] = ts_float_to_bf16(g);
    }
  }
}
