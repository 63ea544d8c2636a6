// Element-wise ops, forward and backward, and the optimizer's per-element kernels. Grid-stride
// loops: any grid covers any n. Backward kernels accumulate (+=) as the Java ops do.

#define TS_FOR_EACH(i, n) \
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += gridDim.x * blockDim.x)

extern "C" __global__ void add_forward(const float* a, const float* b, float* out, int n) {
  TS_FOR_EACH(i, n) out[i] = a[i] + b[i];
}

extern "C" __global__ void accumulate(float* acc, const float* x, float alpha, int n) {
  TS_FOR_EACH(i, n) acc[i] += alpha * x[i];
}

extern "C" __global__ void scale_forward(const float* in, float* out, float s, int n) {
  TS_FOR_EACH(i, n) out[i] = in[i] * s;
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

// SwiGLU: out = silu(gate) * up, silu(g) = g * sigmoid(g).
extern "C" __global__ void swiglu_forward(const float* gate, const float* up, float* out, int n) {
  TS_FOR_EACH(i, n) {
    float g = gate[i];
    float sig = 1.f / (1.f + expf(-g));
    out[i] = g * sig * up[i];
  }
}

extern "C" __global__ void swiglu_backward(float* dgate, float* dup, const float* dout,
                                           const float* gate, const float* up, int n) {
  TS_FOR_EACH(i, n) {
    float g = gate[i];
    float sig = 1.f / (1.f + expf(-g));
    float silu = g * sig;
    float dy = dout[i];
    dgate[i] += dy * up[i] * sig * (1.f + g * (1.f - sig));
    dup[i] += dy * silu;
  }
}

// AdamW for one parameter (see the Java AdamW for the formula): p *= keep, then the Adam update.
extern "C" __global__ void adamw_update(float* p, const float* g, float* m, float* v, int n,
                                        float beta1, float oneMinusBeta1, float beta2,
                                        float oneMinusBeta2, float keep, float stepSize,
                                        float rsqrtBias2, float eps) {
  TS_FOR_EACH(i, n) {
    float grad = g[i];
    float mj = beta1 * m[i] + oneMinusBeta1 * grad;
    float vj = beta2 * v[i] + oneMinusBeta2 * grad * grad;
    m[i] = mj;
    v[i] = vj;
    float denom = sqrtf(vj) * rsqrtBias2 + eps;
    p[i] = p[i] * keep - stepSize * mj / denom;
  }
}

// Sum of squares: each block reduces its grid-stride share in fp32 and adds it to *result
// (double) atomically. *result must be zeroed before the launch.
extern "C" __global__ void sum_squares(const float* x, int n, double* result) {
  float sum = 0.f;
  TS_FOR_EACH(i, n) {
    float v = x[i];
    sum += v * v;
  }
  sum = ts_block_sum(sum);
  if (threadIdx.x == 0) atomicAdd(result, (double)sum);
}
