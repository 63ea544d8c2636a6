// Element-wise ops, forward and backward, and the optimizer's per-element kernels. Grid-stride
// loops: any grid covers any n. Backward kernels accumulate (+=) as the Java ops do.

#define TS_FOR_EACH(i, n) \
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += gridDim.x * blockDim.x)

// vec (add, accumulate, scale): every pointer 16-byte aligned, so all but the last n % 4 values go
// four at a time; TS_FOR_EACH_TAIL covers those last few.
#define TS_FOR_EACH_TAIL(i, n) \
  for (int i = (n) / 4 * 4 + blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += gridDim.x * blockDim.x)

extern "C" __global__ void add_forward(const float* a, const float* b, float* out, int n, int vec) {
  if (!vec) {
    TS_FOR_EACH(i, n) out[i] = a[i] + b[i];
    return;
  }
  TS_FOR_EACH(i, n / 4) {
    float4 x = ((const float4*)a)[i];
    float4 y = ((const float4*)b)[i];
    ((float4*)out)[i] = make_float4(x.x + y.x, x.y + y.y, x.z + y.z, x.w + y.w);
  }
  TS_FOR_EACH_TAIL(i, n) out[i] = a[i] + b[i];
}

extern "C" __global__ void accumulate(float* acc, const float* x, float alpha, int n, int vec) {
  if (!vec) {
    TS_FOR_EACH(i, n) acc[i] += alpha * x[i];
    return;
  }
  TS_FOR_EACH(i, n / 4) {
    float4 y = ((const float4*)x)[i];
    float4 a = ((float4*)acc)[i];
    a.x += alpha * y.x;
    a.y += alpha * y.y;
    a.z += alpha * y.z;
    a.w += alpha * y.w;
    ((float4*)acc)[i] = a;
  }
  TS_FOR_EACH_TAIL(i, n) acc[i] += alpha * x[i];
}

extern "C" __global__ void scale_forward(const float* in, float* out, float s, int n, int vec) {
  if (!vec) {
    TS_FOR_EACH(i, n) out[i] = in[i] * s;
    return;
  }
  TS_FOR_EACH(i, n / 4) {
    float4 x = ((const float4*)in)[i];
    ((float4*)out)[i] = make_float4(x.x * s, x.y * s, x.z * s, x.w * s);
  }
  TS_FOR_EACH_TAIL(i, n) out[i] = in[i] * s;
}

#define TS_SQRT_2_OVER_PI 0.7978845608028654f
#define TS_GELU_CUBIC 0.044715f

extern "C" __global__ void gelu_forward(const float* in, float* out, int n) {
  TS_FOR_EACH(i, n) {
    float v = in[i];
    float t = tanhf((v + v * v * v * TS_GELU_CUBIC) * TS_SQRT_2_OVER_PI);
    out[i] = v * 0.5f * (t + 1.f);
  }
}

extern "C" __global__ void gelu_backward(float* dinp, const float* dout, const float* in, int n) {
  TS_FOR_EACH(i, n) {
    float v = in[i];
    float v2 = v * v;
    float t = tanhf((v + v2 * v * TS_GELU_CUBIC) * TS_SQRT_2_OVER_PI);
    float dInner = (v2 * (3.f * TS_GELU_CUBIC) + 1.f) * TS_SQRT_2_OVER_PI;
    float grad = (t + 1.f) * 0.5f + v * 0.5f * (1.f - t * t) * dInner;
    dinp[i] += dout[i] * grad;
  }
}

#define TS_INV_SQRT_2 0.7071067811865476f
#define TS_INV_SQRT_2PI 0.3989422804014327f

extern "C" __global__ void gelu_erf_forward(const float* in, float* out, int n) {
  TS_FOR_EACH(i, n) {
    float v = in[i];
    out[i] = 0.5f * v * (1.f + erff(v * TS_INV_SQRT_2));
  }
}

extern "C" __global__ void gelu_erf_backward(float* dinp, const float* dout, const float* in, int n) {
  TS_FOR_EACH(i, n) {
    float v = in[i];
    float cdf = 0.5f * (1.f + erff(v * TS_INV_SQRT_2));
    float pdf = TS_INV_SQRT_2PI * expf(-0.5f * v * v);
    dinp[i] += dout[i] * (cdf + v * pdf);
  }
}

// QuickGELU (OpenAI CLIP): x * sigmoid(1.702 x).
#define TS_QUICK_GELU_SLOPE 1.702f

extern "C" __global__ void quick_gelu_forward(const float* in, float* out, int n) {
  TS_FOR_EACH(i, n) {
    float v = in[i];
    out[i] = v / (1.f + expf(-TS_QUICK_GELU_SLOPE * v));
  }
}

extern "C" __global__ void quick_gelu_backward(float* dinp, const float* dout, const float* in, int n) {
  TS_FOR_EACH(i, n) {
    float v = in[i];
    float s = 1.f / (1.f + expf(-TS_QUICK_GELU_SLOPE * v));
    dinp[i] += dout[i] * (s + TS_QUICK_GELU_SLOPE * v * s * (1.f - s));
  }
}

// SwiGLU: out = silu(gate) * up, silu(g) = g * sigmoid(g).
// out16 (here and in the other swiglu kernels), when not null, receives a bf16 copy of out, and
// out may then be null (only the bf16 values are wanted; likewise dgate and dup with dgate16 and
// dup16, in overwrite mode only).
extern "C" __global__ void swiglu_forward(const float* gate, const float* up, float* out, int n,
                                          unsigned short* out16) {
  TS_FOR_EACH(i, n) {
    float g = gate[i];
    float sig = 1.f / (1.f + expf(-g));
    const float value = g * sig * up[i];
    if (out != nullptr) out[i] = value;
    if (out16 != nullptr) out16[i] = ts_float_to_bf16(value);
  }
}

// accumulate != 0: dgate += ..., dup += ...; accumulate == 0: both overwritten (whatever they held).
extern "C" __global__ void swiglu_backward(float* dgate, float* dup, const float* dout,
                                           const float* gate, const float* up, int n, int accumulate,
                                           unsigned short* dgate16, unsigned short* dup16) {
  TS_FOR_EACH(i, n) {
    float g = gate[i];
    float sig = 1.f / (1.f + expf(-g));
    float silu = g * sig;
    float dy = dout[i];
    const float dg = dy * up[i] * sig * (1.f + g * (1.f - sig));
    const float du = dy * silu;
    const float dgNew = accumulate ? dgate[i] + dg : dg;
    const float duNew = accumulate ? dup[i] + du : du;
    if (dgate != nullptr) {
      dgate[i] = dgNew;
      dup[i] = duNew;
    }
    if (dgate16 != nullptr) {
      dgate16[i] = ts_float_to_bf16(dgNew);
      dup16[i] = ts_float_to_bf16(duNew);
    }
  }
}

// The same as swiglu_forward and swiglu_backward, four elements per thread: n4 = n / 4 float4
// vectors, every pointer 16-byte aligned (the host checks both).
static __device__ __forceinline__ float ts_swiglu(float g, float u) {
  return g / (1.f + expf(-g)) * u;
}

// Four bf16 values as one 8-byte store.
static __device__ __forceinline__ uint2 ts_pack_bf16x4(float4 v) {
  uint2 packed;
  packed.x = (unsigned int)ts_float_to_bf16(v.x) | ((unsigned int)ts_float_to_bf16(v.y) << 16);
  packed.y = (unsigned int)ts_float_to_bf16(v.z) | ((unsigned int)ts_float_to_bf16(v.w) << 16);
  return packed;
}

extern "C" __global__ void swiglu_forward_vec4(const float4* gate, const float4* up, float4* out, int n4,
                                               uint2* out16) {
  TS_FOR_EACH(i, n4) {
    const float4 g = gate[i];
    const float4 u = up[i];
    float4 r;
    r.x = ts_swiglu(g.x, u.x);
    r.y = ts_swiglu(g.y, u.y);
    r.z = ts_swiglu(g.z, u.z);
    r.w = ts_swiglu(g.w, u.w);
    if (out != nullptr) out[i] = r;
    if (out16 != nullptr) out16[i] = ts_pack_bf16x4(r);
  }
}

// One element of swiglu_backward: dgate += dy u sig (1 + g (1 - sig)), dup += dy silu.
static __device__ __forceinline__ void ts_swiglu_backward(float& dgate, float& dup, float dy, float g, float u) {
  const float sig = 1.f / (1.f + expf(-g));
  dgate += dy * u * sig * (1.f + g * (1.f - sig));
  dup += dy * g * sig;
}

// accumulate as in swiglu_backward (when 0, dgate and dup are not read).
extern "C" __global__ void swiglu_backward_vec4(float4* dgate, float4* dup, const float4* dout,
                                                const float4* gate, const float4* up, int n4,
                                                int accumulate, uint2* dgate16, uint2* dup16) {
  TS_FOR_EACH(i, n4) {
    const float4 dy = dout[i];
    const float4 g = gate[i];
    const float4 u = up[i];
    float4 dg;
    float4 du;
    if (accumulate) {
      dg = dgate[i];
      du = dup[i];
    } else {
      dg.x = dg.y = dg.z = dg.w = 0.f;
      du.x = du.y = du.z = du.w = 0.f;
    }
    ts_swiglu_backward(dg.x, du.x, dy.x, g.x, u.x);
    ts_swiglu_backward(dg.y, du.y, dy.y, g.y, u.y);
    ts_swiglu_backward(dg.z, du.z, dy.z, g.z, u.z);
    ts_swiglu_backward(dg.w, du.w, dy.w, g.w, u.w);
    if (dgate != nullptr) {
      dgate[i] = dg;
      dup[i] = du;
    }
    if (dgate16 != nullptr) {
      dgate16[i] = ts_pack_bf16x4(dg);
      dup16[i] = ts_pack_bf16x4(du);
    }
  }
}

// AdamW for one parameter (see the Java AdamW for the formula): p *= keep, then the Adam update
// with the gradient times gradScale (the clipping coefficient, 1 without clipping). p16, when not
// null, receives the bf16 copy of the updated weights (what the next step's GEMMs read).
extern "C" __global__ void adamw_update(float* p, const float* g, float* m, float* v, int n,
                                        float beta1, float oneMinusBeta1, float beta2,
                                        float oneMinusBeta2, float keep, float stepSize,
                                        float rsqrtBias2, float eps, float gradScale,
                                        unsigned short* p16) {
  TS_FOR_EACH(i, n) {
    float grad = g[i] * gradScale;
    float mj = beta1 * m[i] + oneMinusBeta1 * grad;
    float vj = beta2 * v[i] + oneMinusBeta2 * grad * grad;
    m[i] = mj;
    v[i] = vj;
    float denom = sqrtf(vj) * rsqrtBias2 + eps;
    const float updated = p[i] * keep - stepSize * mj / denom;
    p[i] = updated;
    if (p16 != nullptr) p16[i] = ts_float_to_bf16(updated);
  }
}

// adamw_update four elements per thread (n4 = n / 4 float4 vectors, every pointer 16-byte aligned;
// the host checks both). The same arithmetic, element by element.
static __device__ __forceinline__ void ts_adamw(float& p, float grad, float& m, float& v, float beta1,
                                                float oneMinusBeta1, float beta2, float oneMinusBeta2,
                                                float keep, float stepSize, float rsqrtBias2, float eps) {
  const float mj = beta1 * m + oneMinusBeta1 * grad;
  const float vj = beta2 * v + oneMinusBeta2 * grad * grad;
  m = mj;
  v = vj;
  const float denom = sqrtf(vj) * rsqrtBias2 + eps;
  p = p * keep - stepSize * mj / denom;
}

extern "C" __global__ void adamw_update_vec4(float4* p, const float4* g, float4* m, float4* v, int n4,
                                             float beta1, float oneMinusBeta1, float beta2,
                                             float oneMinusBeta2, float keep, float stepSize,
                                             float rsqrtBias2, float eps, float gradScale,
                                             uint2* p16) {
  TS_FOR_EACH(i, n4) {
    float4 pp = p[i];
    float4 gg = g[i];
    gg.x *= gradScale;
    gg.y *= gradScale;
    gg.z *= gradScale;
    gg.w *= gradScale;
    float4 mm = m[i];
    float4 vv = v[i];
    ts_adamw(pp.x, gg.x, mm.x, vv.x, beta1, oneMinusBeta1, beta2, oneMinusBeta2, keep, stepSize, rsqrtBias2, eps);
    ts_adamw(pp.y, gg.y, mm.y, vv.y, beta1, oneMinusBeta1, beta2, oneMinusBeta2, keep, stepSize, rsqrtBias2, eps);
    ts_adamw(pp.z, gg.z, mm.z, vv.z, beta1, oneMinusBeta1, beta2, oneMinusBeta2, keep, stepSize, rsqrtBias2, eps);
    ts_adamw(pp.w, gg.w, mm.w, vv.w, beta1, oneMinusBeta1, beta2, oneMinusBeta2, keep, stepSize, rsqrtBias2, eps);
    p[i] = pp;
    m[i] = mm;
    v[i] = vv;
    if (p16 != nullptr) p16[i] = ts_pack_bf16x4(pp);
  }
}

// Sum of squares: each block reduces its grid-stride share in fp32 and adds it to *result
// (double) atomically. *result must be zeroed before the launch. vec: x is 16-byte aligned, so
// all but the last n % 4 values are read as float4.
extern "C" __global__ void sum_squares(const float* x, int n, double* result, int vec) {
  float sum = 0.f;
  int scalarFrom = 0;
  if (vec) {
    const float4* x4 = (const float4*)x;
    TS_FOR_EACH(i, n / 4) {
      float4 v = x4[i];
      sum += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
    scalarFrom = n / 4 * 4;
  }
  for (long i = scalarFrom + (long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (long)gridDim.x * blockDim.x) {
    float v = x[i];
    sum += v * v;
  }
  sum = ts_block_sum(sum);
  if (threadIdx.x == 0) atomicAdd(result, (double)sum);
}
