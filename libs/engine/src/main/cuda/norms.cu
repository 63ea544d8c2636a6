// Row-wise ops: RMSNorm, LayerNorm and softmax, forward and backward. One block per row
// (gridDim.x = rows, blockDim.x a multiple of 32), RMSNorm one warp per row; weight gradients are column sums over rows,
// done by separate kernels over (column, chunk of 64 rows) with one atomic add per chunk.

// RMSNorm runs one warp per row (blockDim.x = 32 * rows per block): at the decoder's widths (a few
// thousand columns) a block per row spent its time in block-wide reductions and barriers, while a
// warp reduces with shuffles alone and its second pass finds the row in L1. vec: cols % 4 == 0 and
// the fp32 pointers 16-byte aligned (the bf16 one 8-byte), so rows are read as float4.

// out16, when not null, receives a bf16 copy of out (the shadow a GEMM reading out can use); out
// may then be null (only the bf16 values are wanted).
extern "C" __global__ void rmsnorm_forward(const float* in, const float* weight, float* out,
                                           float* rstd, int rows, int cols, float eps,
                                           unsigned short* out16, int vec) {
  int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= rows) return;  // the whole warp leaves together
  int lane = threadIdx.x & 31;
  long base = (long)row * cols;
  const float* x = in + base;
  float sum = 0.f;
  if (vec) {
    const float4* x4 = (const float4*)x;
    for (int i = lane; i < cols / 4; i += 32) {
      float4 v = x4[i];
      sum += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
  } else {
    for (int i = lane; i < cols; i += 32) sum += x[i] * x[i];
  }
  sum = ts_warp_sum(sum);
  float s = rsqrtf(sum / cols + eps);
  if (lane == 0) rstd[row] = s;
  if (vec) {
    const float4* x4 = (const float4*)x;
    const float4* w4 = (const float4*)weight;
    for (int i = lane; i < cols / 4; i += 32) {
      float4 v = x4[i];
      float4 w = w4[i];
      float4 y = make_float4(v.x * s * w.x, v.y * s * w.y, v.z * s * w.z, v.w * s * w.w);
      if (out != nullptr) ((float4*)(out + base))[i] = y;
      if (out16 != nullptr) ((uint2*)(out16 + base))[i] = ts_pack_bf16x4(y);
    }
  } else {
    for (int i = lane; i < cols; i += 32) {
      const float value = x[i] * s * weight[i];
      if (out != nullptr) out[base + i] = value;
      if (out16 != nullptr) out16[base + i] = ts_float_to_bf16(value);
    }
  }
}

// dx += s * w * dy - x * s^3 * mean(x * w * dy)
extern "C" __global__ void rmsnorm_backward_input(float* dinp, const float* dout, const float* in,
                                                  const float* weight, const float* rstd, int rows,
                                                  int cols, int vec) {
  int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= rows) return;
  int lane = threadIdx.x & 31;
  long base = (long)row * cols;
  float s = rstd[row];
  float dot = 0.f;
  if (vec) {
    const float4* dy4 = (const float4*)(dout + base);
    const float4* x4 = (const float4*)(in + base);
    const float4* w4 = (const float4*)weight;
    for (int i = lane; i < cols / 4; i += 32) {
      float4 dy = dy4[i];
      float4 x = x4[i];
      float4 w = w4[i];
      dot += dy.x * w.x * x.x + dy.y * w.y * x.y + dy.z * w.z * x.z + dy.w * w.w * x.w;
    }
  } else {
    for (int i = lane; i < cols; i += 32) dot += dout[base + i] * weight[i] * in[base + i];
  }
  dot = ts_warp_sum(dot);
  float k = dot * s * s * s / cols;
  if (vec) {
    const float4* dy4 = (const float4*)(dout + base);
    const float4* x4 = (const float4*)(in + base);
    const float4* w4 = (const float4*)weight;
    float4* dx4 = (float4*)(dinp + base);
    for (int i = lane; i < cols / 4; i += 32) {
      float4 dy = dy4[i];
      float4 x = x4[i];
      float4 w = w4[i];
      float4 dx = dx4[i];
      dx.x += s * w.x * dy.x - k * x.x;
      dx.y += s * w.y * dy.y - k * x.y;
      dx.z += s * w.z * dy.z - k * x.z;
      dx.w += s * w.w * dy.w - k * x.w;
      dx4[i] = dx;
    }
  } else {
    for (int i = lane; i < cols; i += 32) dinp[base + i] += s * weight[i] * dout[base + i] - k * in[base + i];
  }
}

// dw[c] += sum over rows of dy * x * s; grid (ceil(cols/blockDim.x), ceil(rows/64)).
extern "C" __global__ void rmsnorm_backward_weight(float* dweight, const float* dout, const float* in,
                                                   const float* rstd, int rows, int cols) {
  int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (col >= cols) return;
  int r0 = blockIdx.y * 64;
  int r1 = min(rows, r0 + 64);
  float sum = 0.f;
  for (int r = r0; r < r1; r++) sum += dout[(long)r * cols + col] * in[(long)r * cols + col] * rstd[r];
  atomicAdd(&dweight[col], sum);
}

extern "C" __global__ void layernorm_forward(const float* in, const float* weight, const float* bias,
                                             float* out, float* mean, float* rstd, int cols,
                                             float eps) {
  const float* x = in + (long)blockIdx.x * cols;
  float* y = out == nullptr ? nullptr : out + (long)blockIdx.x * cols;
  float sum = 0.f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) sum += x[i];
  float mu = ts_block_sum(sum) / cols;
  float var = 0.f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) {
    float d = x[i] - mu;
    var += d * d;
  }
  var = ts_block_sum(var) / cols;
  float s = rsqrtf(var + eps);
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = mu;
    rstd[blockIdx.x] = s;
  }
  for (int i = threadIdx.x; i < cols; i += blockDim.x) y[i] = (x[i] - mu) * s * weight[i] + bias[i];
}

// dx += s * (w*dy - mean(w*dy) - xhat * mean(w*dy*xhat)), xhat = (x - mu) * s
extern "C" __global__ void layernorm_backward_input(float* dinp, const float* dout, const float* in,
                                                    const float* weight, const float* mean,
                                                    const float* rstd, int cols) {
  long base = (long)blockIdx.x * cols;
  float mu = mean[blockIdx.x];
  float s = rstd[blockIdx.x];
  float sumDy = 0.f;
  float sumDyXhat = 0.f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) {
    float wdy = weight[i] * dout[base + i];
    sumDy += wdy;
    sumDyXhat += wdy * (in[base + i] - mu) * s;
  }
  float meanDy = ts_block_sum(sumDy) / cols;
  float meanDyXhat = ts_block_sum(sumDyXhat) / cols;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) {
    float xhat = (in[base + i] - mu) * s;
    float wdy = weight[i] * dout[base + i];
    dinp[base + i] += s * (wdy - meanDy - xhat * meanDyXhat);
  }
}

// dw[c] += sum dy * xhat, db[c] += sum dy; grid (ceil(cols/blockDim.x), ceil(rows/64)).
extern "C" __global__ void layernorm_backward_params(float* dweight, float* dbias, const float* dout,
                                                     const float* in, const float* mean,
                                                     const float* rstd, int rows, int cols) {
  int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (col >= cols) return;
  int r0 = blockIdx.y * 64;
  int r1 = min(rows, r0 + 64);
  float sw = 0.f;
  float sb = 0.f;
  for (int r = r0; r < r1; r++) {
    float dy = dout[(long)r * cols + col];
    sw += dy * (in[(long)r * cols + col] - mean[r]) * rstd[r];
    sb += dy;
  }
  atomicAdd(&dweight[col], sw);
  atomicAdd(&dbias[col], sb);
}

// out may alias in: each element is read before it is written by the same thread.
extern "C" __global__ void softmax_forward(const float* in, float* out, int cols) {
  const float* x = in + (long)blockIdx.x * cols;
  float* y = out == nullptr ? nullptr : out + (long)blockIdx.x * cols;
  float mx = TS_NEG_INF;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) mx = fmaxf(mx, x[i]);
  mx = ts_block_max(mx);
  float sum = 0.f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) sum += expf(x[i] - mx);
  float inv = 1.f / ts_block_sum(sum);
  for (int i = threadIdx.x; i < cols; i += blockDim.x) y[i] = expf(x[i] - mx) * inv;
}

// dx += y * (dy - sum(dy * y))
extern "C" __global__ void softmax_backward(float* dinp, const float* dout, const float* out, int cols) {
  long base = (long)blockIdx.x * cols;
  float dot = 0.f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) dot += dout[base + i] * out[base + i];
  dot = ts_block_sum(dot);
  for (int i = threadIdx.x; i < cols; i += blockDim.x)
    dinp[base + i] += out[base + i] * (dout[base + i] - dot);
}
