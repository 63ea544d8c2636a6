// Shared device helpers and the small kernels every backend call needs. All files in this folder
// are concatenated into one translation unit (see build-kernels.sh) that both nvcc and NVRTC
// compile, so no file includes a header: only CUDA built-ins are used. Helpers are prefixed ts_.
//
// Conventions: fp32 tensors, row-major; element counts fit in int (the engine's tensors do);
// "rows" kernels run one block per row with blockDim.x a multiple of 32 (at most 1024).

#define TS_NEG_INF __int_as_float(0xff800000)

static __device__ __forceinline__ float ts_warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

static __device__ __forceinline__ float ts_warp_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Sum over the block, returned to every thread. Safe to call repeatedly in one kernel.
static __device__ __forceinline__ float ts_block_sum(float v) {
  __shared__ float partial[32];
  __shared__ float total;
  int lane = threadIdx.x & 31;
  int warp = threadIdx.x >> 5;
  v = ts_warp_sum(v);
  __syncthreads();  // an earlier call may still be reading partial/total
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float w = lane < (int)(blockDim.x >> 5) ? partial[lane] : 0.f;
    w = ts_warp_sum(w);
    if (lane == 0) total = w;
  }
  __syncthreads();
  return total;
}

static __device__ __forceinline__ float ts_block_max(float v) {
  __shared__ float partial[32];
  __shared__ float total;
  int lane = threadIdx.x & 31;
  int warp = threadIdx.x >> 5;
  v = ts_warp_max(v);
  __syncthreads();
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float w = lane < (int)(blockDim.x >> 5) ? partial[lane] : TS_NEG_INF;
    w = ts_warp_max(w);
    if (lane == 0) total = w;
  }
  __syncthreads();
  return total;
}

// bf16 <-> fp32 without cuda_bf16.h: bf16 is the top half of an fp32, rounded to nearest even.
static __device__ __forceinline__ float ts_bf16_to_float(unsigned short h) {
  return __uint_as_float(((unsigned int)h) << 16);
}

static __device__ __forceinline__ unsigned short ts_float_to_bf16(float f) {
  unsigned int bits = __float_as_uint(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((bits >> 16) | 0x40u);  // NaN stays NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return (unsigned short)(bits >> 16);
}

extern "C" __global__ void convert_f32_to_bf16(const float* in, unsigned short* out, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    out[i] = ts_float_to_bf16(in[i]);
}

// Eight floats per thread: two 16-byte loads, one 16-byte store (in and out 16-byte aligned),
// twice the bytes in flight per thread of the four-float kernel, which the memory system of a
// Hopper card needs to come near its bandwidth.
extern "C" __global__ void convert_f32_to_bf16_vec8(const float4* in, uint4* out, int n8) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n8; i += gridDim.x * blockDim.x) {
    const float4 a = in[2 * i];
    const float4 b = in[2 * i + 1];
    uint4 packed;
    packed.x = (unsigned int)ts_float_to_bf16(a.x) | ((unsigned int)ts_float_to_bf16(a.y) << 16);
    packed.y = (unsigned int)ts_float_to_bf16(a.z) | ((unsigned int)ts_float_to_bf16(a.w) << 16);
    packed.z = (unsigned int)ts_float_to_bf16(b.x) | ((unsigned int)ts_float_to_bf16(b.y) << 16);
    packed.w = (unsigned int)ts_float_to_bf16(b.z) | ((unsigned int)ts_float_to_bf16(b.w) << 16);
    out[i] = packed;
  }
}

extern "C" __global__ void convert_bf16_to_f32(const unsigned short* in, float* out, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    out[i] = ts_bf16_to_float(in[i]);
}

// Uniform values in [lo, hi) from a counter-based hash of (seed, index): the same tensor for the
// same seed on any GPU and launch shape. For initialising large random weights on the device.
static __device__ __forceinline__ unsigned int ts_hash(unsigned int x) {
  x ^= x >> 16; x *= 0x7feb352du;
  x ^= x >> 15; x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

extern "C" __global__ void fill_uniform(float* out, int n, unsigned int seed, float lo, float hi) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    unsigned int h = ts_hash(ts_hash((unsigned int)i ^ 0x9e3779b9u) + seed);
    float u = (h >> 8) * (1.0f / 16777216.0f);
    out[i] = lo + (hi - lo) * u;
  }
}

// Column sums of a [rows, cols] matrix added into out[cols]: blockIdx.x covers 256 columns,
// blockIdx.y a chunk of 64 rows, whose partial sum is added atomically.
extern "C" __global__ void column_sum_accumulate(const float* in, float* out, int rows, int cols) {
  int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (col >= cols) return;
  int r0 = blockIdx.y * 64;
  int r1 = min(rows, r0 + 64);
  float sum = 0.f;
  for (int r = r0; r < r1; r++) sum += in[(long)r * cols + col];
  atomicAdd(&out[col], sum);
}

// out[row, :] = bias for every row (the matmul's bias, before the GEMM adds inp @ weight^T).
extern "C" __global__ void broadcast_rows(const float* bias, float* out, int rows, int cols) {
  long total = (long)rows * cols;
  for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x)
    out[i] = bias[i % cols];
}
