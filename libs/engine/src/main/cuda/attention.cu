// Attention kernels (fp32): causal grouped-query attention over packed rows (forward and backward)
// and full bidirectional attention (forward only), matching dev.tessera.engine.ops.Attention and
// dev.tessera.engine.ops.BidirectionalAttention.
//
// Layouts (row-major, token-major): q, out, dout, dq [B, T, Hq, D]; k, v, dk, dv [B, T, Hkv, D];
// lse, delta [B, Hq, T]; keyStart [B * T]. Query head h reads k/v head h / (Hq / Hkv).
// Query t of row b sees keys j with keyStart[b*T + t] <= j <= t (causal); with causal == 0 in the
// forward, every query sees all T keys.
//
// ------------------------------------------------------------------------------------------------
// LAUNCH CONFIGURATION (ceil(a / n) means (a + n - 1) / n in integer arithmetic; dynamic shared
// memory = 0 bytes for every kernel; all shared memory is static and below 48 KB):
//
//   attention_forward         blockDim = (128, 1, 1)
//                             gridDim  = (B * Hq, ceil(T / 32), 1)
//   attention_backward_delta  blockDim = (256, 1, 1)
//                             gridDim  = (ceil(B * T * Hq / 8), 1, 1)
//   attention_backward_dkdv   blockDim = (256, 1, 1)
//                             gridDim  = (B * Hkv, ceil(T / 32), S) with S dividing Hq / Hkv:
//                             block z covers query heads [z, z + 1) * (Hq / Hkv / S) of the group;
//                             with S > 1 it stores its partial sums (=) in dkPart / dvPart slot z
//                             ([S, B, T, Hkv, D] each) and attention_reduce_partials adds the S
//                             slots, in order, into dk and dv.
//   attention_reduce_partials blockDim = (256, 1, 1), gridDim = (ceil(B * T * Hkv * D / 256), 1, 1)
//   attention_backward_dq     blockDim = (128, 1, 1)
//                             gridDim  = (B * Hq, ceil(T / 32), 1)
//
// Backward order: attention_backward_delta first (it writes delta, [B, Hq, T] floats, a scratch
// buffer the host allocates); then attention_backward_dkdv and attention_backward_dq, in either
// order (they read delta and write disjoint outputs).
//
// Host guarantees: B, T >= 1 (do not launch when B * T == 0); 1 <= D <= 128; Hkv >= 1 and Hq a
// multiple of Hkv; ceil(T / 32) <= 65535; scale = 1 / sqrt(D); keyStart non-null for the backward
// kernels and for the forward with causal != 0, with keyStart[b*T + t] <= t and non-decreasing in
// t within each row; lse non-null for the backward kernels (the forward may get null); outputs
// (out, lse, delta, dq, dk, dv) do not alias any input or each other; every element count fits in
// 63 bits (indices are computed in 64 bits). dq, dk, dv are accumulated (+=), never overwritten.
// ------------------------------------------------------------------------------------------------

// Queries per query tile and keys per key tile.
static constexpr int attn_TILE = 32;
// Shared-memory row stride of a [32 x 128] tile in floats: a multiple of 4 (float4 access) whose
// quarter (33) is odd, so eight rows read at the same column fall in eight distinct bank quads.
static constexpr int attn_STRIDE = 132;
// Row stride of the forward's probability tile [32 x 32].
static constexpr int attn_PSTRIDE = 36;

static __device__ __forceinline__ float attn_neg_inf() { return -__int_as_float(0x7f800000); }

static __device__ __forceinline__ int attn_min(int a, int b) { return a < b ? a : b; }

// One row of attn_load_tile: dst[x] = src[x] for x < D (when ok), zeros up to roundUp(D, 32).
static __device__ __forceinline__ void attn_load_row(
    float* __restrict__ dst, const float* __restrict__ src, bool ok, int D) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int m = 0; m < 4; ++m) {
    const int x = lane + 32 * m;
    if (32 * m < D) {
      dst[x] = (ok && x < D) ? src[x] : 0.f;
    }
  }
}

// Copies a tile of 32 token rows into shared memory, row r at dst + r * attn_STRIDE. Rows
// r < nValid come from src + r * tokStride (D contiguous floats each); rows r >= nValid and the
// columns [D, roundUp(D, 32)) are zero-filled. Needs all WARPS warps of the block: warp w handles
// rows w, w + WARPS, ..., lanes cover consecutive columns (coalesced). FULL unrolls the row loop
// completely (more loads in flight, more registers); otherwise two rows at a time.
template <int WARPS, bool FULL>
static __device__ __forceinline__ void attn_load_tile(
    float* __restrict__ dst, const float* __restrict__ src, long long tokStride, int nValid, int D) {
  const int warp = threadIdx.x >> 5;
  if (FULL) {
#pragma unroll
    for (int i = 0; i < attn_TILE / WARPS; ++i) {
      const int r = warp + WARPS * i;
      const bool ok = r < nValid;
      attn_load_row(dst + r * attn_STRIDE, src + (ok ? (long long)r * tokStride : 0LL), ok, D);
    }
  } else {
#pragma unroll 2
    for (int i = 0; i < attn_TILE / WARPS; ++i) {
      const int r = warp + WARPS * i;
      const bool ok = r < nValid;
      attn_load_row(dst + r * attn_STRIDE, src + (ok ? (long long)r * tokStride : 0LL), ok, D);
    }
  }
}

// dst[r * tokStride + x] += src[r * attn_STRIDE + x] for r < nValid, x < D. All WARPS warps.
template <int WARPS>
static __device__ __forceinline__ void attn_add_tile(
    float* __restrict__ dst, long long tokStride, const float* __restrict__ src, int nValid, int D) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
#pragma unroll
  for (int i = 0; i < attn_TILE / WARPS; ++i) {
    const int r = warp + WARPS * i;
    if (r < nValid) {
      float* rowp = dst + (long long)r * tokStride;
#pragma unroll
      for (int m = 0; m < 4; ++m) {
        const int x = lane + 32 * m;
        if (x < D) {
          rowp[x] += src[r * attn_STRIDE + x];
        }
      }
    }
  }
}

// dst[r * tokStride + x] = src[r * attn_STRIDE + x] for r < nValid, x < D. All WARPS warps.
template <int WARPS>
static __device__ __forceinline__ void attn_store_tile(
    float* __restrict__ dst, long long tokStride, const float* __restrict__ src, int nValid, int D) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
#pragma unroll
  for (int i = 0; i < attn_TILE / WARPS; ++i) {
    const int r = warp + WARPS * i;
    if (r < nValid) {
      float* rowp = dst + (long long)r * tokStride;
#pragma unroll
      for (int m = 0; m < 4; ++m) {
        const int x = lane + 32 * m;
        if (x < D) {
          rowp[x] = src[r * attn_STRIDE + x];
        }
      }
    }
  }
}

// The 16 columns sub * 4 + 32 * m + e (m, e < 4) of a shared-memory row into registers; groups
// with 32 * m >= D are left untouched (the caller zero-initialises them).
static __device__ __forceinline__ void attn_row_to_regs(
    float (&dst)[16], const float* __restrict__ row, int sub, int D) {
#pragma unroll
  for (int m = 0; m < 4; ++m) {
    if (32 * m < D) {
      const float4 t = *reinterpret_cast<const float4*>(row + sub * 4 + 32 * m);
      dst[4 * m + 0] = t.x;
      dst[4 * m + 1] = t.y;
      dst[4 * m + 2] = t.z;
      dst[4 * m + 3] = t.w;
    }
  }
}

// The inverse of attn_row_to_regs: stores the 16 columns of this thread, each times f.
static __device__ __forceinline__ void attn_regs_to_row(
    float* __restrict__ row, const float (&src)[16], float f, int sub, int D) {
#pragma unroll
  for (int m = 0; m < 4; ++m) {
    if (32 * m < D) {
      float4 t;
      t.x = src[4 * m + 0] * f;
      t.y = src[4 * m + 1] * f;
      t.z = src[4 * m + 2] * f;
      t.w = src[4 * m + 3] * f;
      *reinterpret_cast<float4*>(row + sub * 4 + 32 * m) = t;
    }
  }
}

// Partial dot product of this thread's 16 columns (see attn_row_to_regs).
static __device__ __forceinline__ float attn_dot16(const float (&a)[16], const float (&b)[16], int D) {
  float s0 = 0.f;
  float s1 = 0.f;
#pragma unroll
  for (int m = 0; m < 4; ++m) {
    if (32 * m < D) {
      s0 = fmaf(a[4 * m + 0], b[4 * m + 0], s0);
      s1 = fmaf(a[4 * m + 1], b[4 * m + 1], s1);
      s0 = fmaf(a[4 * m + 2], b[4 * m + 2], s0);
      s1 = fmaf(a[4 * m + 3], b[4 * m + 3], s1);
    }
  }
  return s0 + s1;
}

// acc += f * x over this thread's 16 columns.
static __device__ __forceinline__ void attn_axpy16(float (&acc)[16], float f, const float (&x)[16], int D) {
#pragma unroll
  for (int m = 0; m < 4; ++m) {
    if (32 * m < D) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        acc[4 * m + e] = fmaf(f, x[4 * m + e], acc[4 * m + e]);
      }
    }
  }
}

// Sum over the 8 consecutive lanes that share one token (lane groups of 8, aligned).
static __device__ __forceinline__ float attn_sum8(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  x += __shfl_xor_sync(0xffffffffu, x, 2);
  x += __shfl_xor_sync(0xffffffffu, x, 4);
  return x;
}

static __device__ __forceinline__ float attn_max8(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 4));
  return x;
}

// Forward. One block = 32 consecutive queries [t0, t0 + 32) of one (row b, query head h):
// blockIdx.x = b * Hq + h, blockIdx.y = ceil(T / 32) - 1 - (t0 / 32) (the longest causal tiles
// start first), 128 threads. The query tile stays in shared memory; key tiles of 32 keys stream
// through one shared buffer (K, then V of the same keys), with an online softmax (running max m
// and sum l per query). Thread (ty = tid / 8, tx = tid % 8) owns queries 2ty, 2ty + 1 of the tile,
// the scores of keys tx + 8j (j < 4) of each key tile, and the output columns tx * 4 + 32 * m + e.
// The 8 lanes sharing ty are consecutive, so row reductions are 3 xor-shuffles. Causal: keys run
// from keyStart[b*T + t0] (the tile's smallest) to t0 + 31; each query masks its own span.
extern "C" __global__ void __launch_bounds__(128) attention_forward(
    const float* __restrict__ q,
    const float* __restrict__ k,
    const float* __restrict__ v,
    const int* __restrict__ keyStart,
    float* __restrict__ out,
    float* __restrict__ lse,
    int B,
    int T,
    int Hq,
    int Hkv,
    int D,
    float scale,
    int causal) {
  __shared__ __align__(16) float sQ[attn_TILE * attn_STRIDE];
  __shared__ __align__(16) float sKV[attn_TILE * attn_STRIDE];
  __shared__ __align__(16) float sP[attn_TILE * attn_PSTRIDE];
  (void)B;

  const float negInf = attn_neg_inf();
  const int bh = blockIdx.x;
  const int b = bh / Hq;
  const int h = bh - b * Hq;
  const int g = h / (Hq / Hkv);
  const int t0 = (int)(gridDim.y - 1 - blockIdx.y) * attn_TILE;
  const int nq = attn_min(attn_TILE, T - t0);
  const int tid = threadIdx.x;
  const int tx = tid & 7;
  const int ty = tid >> 3;
  const int r0 = 2 * ty;

  const long long qTok = (long long)Hq * D;
  const long long kvTok = (long long)Hkv * D;
  const float* qBase = q + ((long long)b * T * Hq + h) * D;
  const float* kBase = k + ((long long)b * T * Hkv + g) * D;
  const float* vBase = v + ((long long)b * T * Hkv + g) * D;
  float* oBase = out + ((long long)b * T * Hq + h) * D;

  attn_load_tile<4, false>(sQ, qBase + (long long)t0 * qTok, qTok, nq, D);

  // Visible keys [lo, hi] of this thread's two queries; an empty span for queries past T.
  int lo[2];
  int hi[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int tq = t0 + r0 + i;
    if (tq < T) {
      lo[i] = causal ? keyStart[(long long)b * T + tq] : 0;
      hi[i] = causal ? tq : T - 1;
    } else {
      lo[i] = 1;
      hi[i] = 0;
    }
  }
  const int kBegin = causal ? keyStart[(long long)b * T + t0] : 0;
  const int kEnd = causal ? t0 + nq : T;
  const int dp4 = (D + 3) & ~3;

  float mRun[2] = {negInf, negInf};
  float lRun[2] = {0.f, 0.f};
  float o[2][16];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
#pragma unroll
    for (int d = 0; d < 16; ++d) {
      o[i][d] = 0.f;
    }
  }

  for (int j0 = kBegin; j0 < kEnd; j0 += attn_TILE) {
    const int nk = attn_min(attn_TILE, kEnd - j0);
    __syncthreads();  // everyone is done with the previous V tile (and sP)
    attn_load_tile<4, false>(sKV, kBase + (long long)j0 * kvTok, kvTok, nk, D);
    __syncthreads();

    // Raw scores q . k of queries r0, r0 + 1 against keys tx + 8j; zero padding beyond D.
    float s[2][4];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        s[i][j] = 0.f;
      }
    }
#pragma unroll 2
    for (int x = 0; x < dp4; x += 4) {
      const float4 qa = *reinterpret_cast<const float4*>(sQ + r0 * attn_STRIDE + x);
      const float4 qb = *reinterpret_cast<const float4*>(sQ + (r0 + 1) * attn_STRIDE + x);
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const float4 kk = *reinterpret_cast<const float4*>(sKV + (tx + 8 * j) * attn_STRIDE + x);
        s[0][j] = fmaf(qa.x, kk.x, s[0][j]);
        s[0][j] = fmaf(qa.y, kk.y, s[0][j]);
        s[0][j] = fmaf(qa.z, kk.z, s[0][j]);
        s[0][j] = fmaf(qa.w, kk.w, s[0][j]);
        s[1][j] = fmaf(qb.x, kk.x, s[1][j]);
        s[1][j] = fmaf(qb.y, kk.y, s[1][j]);
        s[1][j] = fmaf(qb.z, kk.z, s[1][j]);
        s[1][j] = fmaf(qb.w, kk.w, s[1][j]);
      }
    }

    // Online softmax: new running max, rescale the old sum and output, probabilities into sP.
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      float mt = negInf;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int key = j0 + tx + 8 * j;
        s[i][j] = (key >= lo[i] && key <= hi[i]) ? s[i][j] * scale : negInf;
        mt = fmaxf(mt, s[i][j]);
      }
      mt = attn_max8(mt);
      const float mNew = fmaxf(mRun[i], mt);
      const float mUse = (mNew == negInf) ? 0.f : mNew;  // no visible key yet: all p are 0
      const float alpha = expf(mRun[i] - mUse);
      float rs = 0.f;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const float p = expf(s[i][j] - mUse);
        sP[(r0 + i) * attn_PSTRIDE + tx + 8 * j] = p;
        rs += p;
      }
      rs = attn_sum8(rs);
      lRun[i] = fmaf(lRun[i], alpha, rs);
      mRun[i] = mNew;
#pragma unroll
      for (int d = 0; d < 16; ++d) {
        o[i][d] *= alpha;
      }
    }

    __syncthreads();  // everyone is done with the K tile
    attn_load_tile<4, false>(sKV, vBase + (long long)j0 * kvTok, kvTok, nk, D);
    __syncthreads();

    // o += P V over the tile's keys (rows >= nk of V are zero and their P is 0).
    const int nk4 = (nk + 3) & ~3;
    for (int c = 0; c < nk4; c += 4) {
      const float4 pa = *reinterpret_cast<const float4*>(sP + r0 * attn_PSTRIDE + c);
      const float4 pb = *reinterpret_cast<const float4*>(sP + (r0 + 1) * attn_PSTRIDE + c);
#pragma unroll
      for (int m = 0; m < 4; ++m) {
        if (32 * m < D) {
          const int col = tx * 4 + 32 * m;
          const float4 v0 = *reinterpret_cast<const float4*>(sKV + (c + 0) * attn_STRIDE + col);
          const float4 v1 = *reinterpret_cast<const float4*>(sKV + (c + 1) * attn_STRIDE + col);
          const float4 v2 = *reinterpret_cast<const float4*>(sKV + (c + 2) * attn_STRIDE + col);
          const float4 v3 = *reinterpret_cast<const float4*>(sKV + (c + 3) * attn_STRIDE + col);
          float* oa = &o[0][4 * m];
          float* ob = &o[1][4 * m];
          oa[0] = fmaf(pa.x, v0.x, oa[0]);
          oa[1] = fmaf(pa.x, v0.y, oa[1]);
          oa[2] = fmaf(pa.x, v0.z, oa[2]);
          oa[3] = fmaf(pa.x, v0.w, oa[3]);
          ob[0] = fmaf(pb.x, v0.x, ob[0]);
          ob[1] = fmaf(pb.x, v0.y, ob[1]);
          ob[2] = fmaf(pb.x, v0.z, ob[2]);
          ob[3] = fmaf(pb.x, v0.w, ob[3]);
          oa[0] = fmaf(pa.y, v1.x, oa[0]);
          oa[1] = fmaf(pa.y, v1.y, oa[1]);
          oa[2] = fmaf(pa.y, v1.z, oa[2]);
          oa[3] = fmaf(pa.y, v1.w, oa[3]);
          ob[0] = fmaf(pb.y, v1.x, ob[0]);
          ob[1] = fmaf(pb.y, v1.y, ob[1]);
          ob[2] = fmaf(pb.y, v1.z, ob[2]);
          ob[3] = fmaf(pb.y, v1.w, ob[3]);
          oa[0] = fmaf(pa.z, v2.x, oa[0]);
          oa[1] = fmaf(pa.z, v2.y, oa[1]);
          oa[2] = fmaf(pa.z, v2.z, oa[2]);
          oa[3] = fmaf(pa.z, v2.w, oa[3]);
          ob[0] = fmaf(pb.z, v2.x, ob[0]);
          ob[1] = fmaf(pb.z, v2.y, ob[1]);
          ob[2] = fmaf(pb.z, v2.z, ob[2]);
          ob[3] = fmaf(pb.z, v2.w, ob[3]);
          oa[0] = fmaf(pa.w, v3.x, oa[0]);
          oa[1] = fmaf(pa.w, v3.y, oa[1]);
          oa[2] = fmaf(pa.w, v3.z, oa[2]);
          oa[3] = fmaf(pa.w, v3.w, oa[3]);
          ob[0] = fmaf(pb.w, v3.x, ob[0]);
          ob[1] = fmaf(pb.w, v3.y, ob[1]);
          ob[2] = fmaf(pb.w, v3.z, ob[2]);
          ob[3] = fmaf(pb.w, v3.w, ob[3]);
        }
      }
    }
  }

  // Normalise, stage the output tile in sQ, write lse, then store the tile coalesced.
  __syncthreads();
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const float inv = lRun[i] > 0.f ? 1.f / lRun[i] : 0.f;
    attn_regs_to_row(sQ + (r0 + i) * attn_STRIDE, o[i], inv, tx, D);
    const int tq = t0 + r0 + i;
    if (lse != nullptr && tx == 0 && tq < T) {
      lse[((long long)b * Hq + h) * T + tq] = mRun[i] + logf(lRun[i]);
    }
  }
  __syncthreads();
  {
    const int lane = tid & 31;
    const int warp = tid >> 5;
#pragma unroll
    for (int i = 0; i < attn_TILE / 4; ++i) {
      const int r = warp + 4 * i;
      if (r < nq) {
        float* rowp = oBase + (long long)(t0 + r) * qTok;
#pragma unroll
        for (int m = 0; m < 4; ++m) {
          const int x = lane + 32 * m;
          if (x < D) {
            rowp[x] = sQ[r * attn_STRIDE + x];
          }
        }
      }
    }
  }
}

// delta[b, h, t] = dout[b, t, h, :] . out[b, t, h, :]. One warp per (b, t, h) token-head row,
// 8 rows per 256-thread block: row = blockIdx.x * 8 + threadIdx.x / 32 (rows in [B, T, Hq]
// order), lanes stride over D, fixed-order xor-shuffle reduction (deterministic).
extern "C" __global__ void __launch_bounds__(256) attention_backward_delta(
    const float* __restrict__ dout,
    const float* __restrict__ out,
    float* __restrict__ delta,
    int B,
    int T,
    int Hq,
    int D) {
  const long long rows = (long long)B * T * Hq;
  const long long row = (long long)blockIdx.x * 8 + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= rows) {
    return;  // uniform per warp
  }
  const float* a = dout + row * D;
  const float* c = out + row * D;
  float s = 0.f;
  for (int x = lane; x < D; x += 32) {
    s = fmaf(a[x], c[x], s);
  }
  s += __shfl_xor_sync(0xffffffffu, s, 16);
  s += __shfl_xor_sync(0xffffffffu, s, 8);
  s += __shfl_xor_sync(0xffffffffu, s, 4);
  s += __shfl_xor_sync(0xffffffffu, s, 2);
  s += __shfl_xor_sync(0xffffffffu, s, 1);
  if (lane == 0) {
    const long long bt = row / Hq;
    const int h = (int)(row - bt * Hq);
    const long long b = bt / T;
    const int t = (int)(bt - b * T);
    delta[(b * Hq + h) * T + t] = s;
  }
}

// dk, dv. One block = 32 consecutive keys [k0, k0 + 32) of one (row b, k/v head g):
// blockIdx.x = b * Hkv + g, blockIdx.y = k0 / 32 (the longest tiles, low keys, start first),
// 256 threads. Thread (kg = tid / 8, sub = tid % 8) owns key kg of the tile and its columns
// sub * 4 + 32 * m + e (m, e < 4): its k, v and the dk, dv accumulators live in registers. For
// each query head of the group and each query tile from k0 on (stopping at the first tile whose
// first query's keyStart is past the tile's last key), q and dout tiles are staged in shared
// memory, and per query the 8 lanes of a key reduce q.k and dout.v with
// xor-shuffles, then p = exp(scale q.k - lse), ds = p (dout.v - delta), dv += p dout,
// dk += ds q. Finally dk += scale * acc, dv += acc (this block is the only writer).
extern "C" __global__ void __launch_bounds__(256, 2) attention_backward_dkdv(
    const float* __restrict__ q,
    const float* __restrict__ k,
    const float* __restrict__ v,
    const float* __restrict__ dout,
    const float* __restrict__ lse,
    const float* __restrict__ delta,
    const int* __restrict__ keyStart,
    float* __restrict__ dk,
    float* __restrict__ dv,
    float* __restrict__ dkPart,
    float* __restrict__ dvPart,
    int B,
    int T,
    int Hq,
    int Hkv,
    int D,
    float scale) {
  __shared__ __align__(16) float sA[attn_TILE * attn_STRIDE];  // k staging, q tile, dk staging
  __shared__ __align__(16) float sB[attn_TILE * attn_STRIDE];  // v staging, dout tile, dv staging
  __shared__ float sLse[attn_TILE];
  __shared__ float sDelta[attn_TILE];
  __shared__ int sKs[attn_TILE];
  (void)B;

  const int bg = blockIdx.x;
  const int b = bg / Hkv;
  const int g = bg - b * Hkv;
  const int group = Hq / Hkv;
  const int k0 = (int)blockIdx.y * attn_TILE;
  const int nk = attn_min(attn_TILE, T - k0);
  const int kLast = k0 + nk - 1;
  const int tid = threadIdx.x;
  const int sub = tid & 7;
  const int kg = tid >> 3;
  const int key = k0 + kg;

  const long long qTok = (long long)Hq * D;
  const long long kvTok = (long long)Hkv * D;
  const long long kvOff = ((long long)b * T * Hkv + g) * D;
  const int* ksRow = keyStart + (long long)b * T;

  attn_load_tile<8, false>(sA, k + kvOff + (long long)k0 * kvTok, kvTok, nk, D);
  attn_load_tile<8, false>(sB, v + kvOff + (long long)k0 * kvTok, kvTok, nk, D);
  __syncthreads();

  float kr[16], vr[16], dkAcc[16], dvAcc[16];
#pragma unroll
  for (int d = 0; d < 16; ++d) {
    kr[d] = 0.f;
    vr[d] = 0.f;
    dkAcc[d] = 0.f;
    dvAcc[d] = 0.f;
  }
  attn_row_to_regs(kr, sA + kg * attn_STRIDE, sub, D);
  attn_row_to_regs(vr, sB + kg * attn_STRIDE, sub, D);

  // This block's share of the group's query heads (all of them when gridDim.z == 1).
  const int headsPerSplit = group / (int)gridDim.z;
  const int hFirst = g * group + (int)blockIdx.z * headsPerSplit;
  for (int h = hFirst; h < hFirst + headsPerSplit; ++h) {
    const float* qBase = q + ((long long)b * T * Hq + h) * D;
    const float* doBase = dout + ((long long)b * T * Hq + h) * D;
    const float* lseRow = lse + ((long long)b * Hq + h) * T;
    const float* deltaRow = delta + ((long long)b * Hq + h) * T;
    for (int q0 = k0; q0 < T; q0 += attn_TILE) {
      if (ksRow[q0] > kLast) {
        break;  // keyStart is non-decreasing: no later query sees this key tile
      }
      const int nq = attn_min(attn_TILE, T - q0);
      __syncthreads();  // everyone is done with the previous contents of sA, sB, sLse, ...
      attn_load_tile<8, false>(sA, qBase + (long long)q0 * qTok, qTok, nq, D);
      attn_load_tile<8, false>(sB, doBase + (long long)q0 * qTok, qTok, nq, D);
      if (tid < attn_TILE) {
        const bool ok = tid < nq;
        sLse[tid] = ok ? lseRow[q0 + tid] : 0.f;
        sDelta[tid] = ok ? deltaRow[q0 + tid] : 0.f;
        sKs[tid] = ok ? ksRow[q0 + tid] : T;
      }
      __syncthreads();

#pragma unroll 2
      for (int qi = 0; qi < nq; ++qi) {
        const int tq = q0 + qi;
        float qv[16], dov[16];
#pragma unroll
        for (int d = 0; d < 16; ++d) {
          qv[d] = 0.f;
          dov[d] = 0.f;
        }
        attn_row_to_regs(qv, sA + qi * attn_STRIDE, sub, D);
        attn_row_to_regs(dov, sB + qi * attn_STRIDE, sub, D);
        float sc = attn_dot16(kr, qv, D);
        float dpv = attn_dot16(vr, dov, D);
        sc = attn_sum8(sc);
        dpv = attn_sum8(dpv);
        const float L = sLse[qi];
        const float dl = sDelta[qi];
        const int ks = sKs[qi];
        // Visible: ks <= key <= tq (tq < T, so key < T too).
        const float pr = (key >= ks && key <= tq) ? expf(sc * scale - L) : 0.f;
        const float ds = pr * (dpv - dl);
        attn_axpy16(dvAcc, pr, dov, D);
        attn_axpy16(dkAcc, ds, qv, D);
      }
    }
  }

  __syncthreads();
  attn_regs_to_row(sA + kg * attn_STRIDE, dkAcc, scale, sub, D);
  attn_regs_to_row(sB + kg * attn_STRIDE, dvAcc, 1.f, sub, D);
  __syncthreads();
  // The tile's first output element, from the block index again (fewer registers live in the loop).
  const long long outOff =
      (((long long)(blockIdx.x / Hkv) * T + blockIdx.y * attn_TILE) * Hkv + blockIdx.x % Hkv) * D;
  if (gridDim.z == 1) {
    attn_add_tile<8>(dk + outOff, kvTok, sA, nk, D);
    attn_add_tile<8>(dv + outOff, kvTok, sB, nk, D);
  } else {
    // Several blocks share these keys: each stores its partial sum in its own slot.
    const long long slot = (long long)blockIdx.z * B * T * Hkv * D;
    attn_store_tile<8>(dkPart + slot + outOff, kvTok, sA, nk, D);
    attn_store_tile<8>(dvPart + slot + outOff, kvTok, sB, nk, D);
  }
}

// dk += sum over z of dkPart[z], dv likewise, the slots added in order (deterministic).
extern "C" __global__ void attention_reduce_partials(
    float* __restrict__ dk,
    float* __restrict__ dv,
    const float* __restrict__ dkPart,
    const float* __restrict__ dvPart,
    long long n,
    int splits) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) {
    return;
  }
  float sk = 0.f;
  float sv = 0.f;
  for (int z = 0; z < splits; ++z) {
    sk += dkPart[z * n + i];
    sv += dvPart[z * n + i];
  }
  dk[i] += sk;
  dv[i] += sv;
}

// dq. One block = 32 consecutive queries [t0, t0 + 32) of one (row b, query head h):
// blockIdx.x = b * Hq + h, blockIdx.y = ceil(T / 32) - 1 - (t0 / 32) (longest tiles first),
// 128 threads. Thread (qg = tid / 8, sub = tid % 8) owns queries qg and qg + 16 of the tile and
// their columns sub * 4 + 32 * m + e: q, dout and the dq accumulators live in registers. Key
// tiles from keyStart[b*T + t0] to t0 + 31 are staged in shared memory (k and v); per key the 8
// lanes of a query reduce q.k and dout.v with xor-shuffles, then p = exp(scale q.k - lse),
// ds = p (dout.v - delta), dq += ds k. Finally dq += scale * acc (this block is the only writer).
extern "C" __global__ void __launch_bounds__(128) attention_backward_dq(
    const float* __restrict__ q,
    const float* __restrict__ k,
    const float* __restrict__ v,
    const float* __restrict__ dout,
    const float* __restrict__ lse,
    const float* __restrict__ delta,
    const int* __restrict__ keyStart,
    float* __restrict__ dq,
    int B,
    int T,
    int Hq,
    int Hkv,
    int D,
    float scale) {
  __shared__ __align__(16) float sA[attn_TILE * attn_STRIDE];  // q staging, k tile, dq staging
  __shared__ __align__(16) float sB[attn_TILE * attn_STRIDE];  // dout staging, v tile
  (void)B;

  const int bh = blockIdx.x;
  const int b = bh / Hq;
  const int h = bh - b * Hq;
  const int g = h / (Hq / Hkv);
  const int t0 = (int)(gridDim.y - 1 - blockIdx.y) * attn_TILE;
  const int nq = attn_min(attn_TILE, T - t0);
  const int tid = threadIdx.x;
  const int sub = tid & 7;
  const int qg = tid >> 3;

  const long long qTok = (long long)Hq * D;
  const long long kvTok = (long long)Hkv * D;
  const long long qOff = ((long long)b * T * Hq + h) * D;
  const long long kvOff = ((long long)b * T * Hkv + g) * D;
  const int* ksRow = keyStart + (long long)b * T;
  const float* lseRow = lse + ((long long)b * Hq + h) * T;
  const float* deltaRow = delta + ((long long)b * Hq + h) * T;

  attn_load_tile<4, true>(sA, q + qOff + (long long)t0 * qTok, qTok, nq, D);
  attn_load_tile<4, true>(sB, dout + qOff + (long long)t0 * qTok, qTok, nq, D);
  __syncthreads();

  float qr0[16], qr1[16], do0[16], do1[16], dq0[16], dq1[16];
#pragma unroll
  for (int d = 0; d < 16; ++d) {
    qr0[d] = 0.f;
    qr1[d] = 0.f;
    do0[d] = 0.f;
    do1[d] = 0.f;
    dq0[d] = 0.f;
    dq1[d] = 0.f;
  }
  attn_row_to_regs(qr0, sA + qg * attn_STRIDE, sub, D);
  attn_row_to_regs(qr1, sA + (qg + 16) * attn_STRIDE, sub, D);
  attn_row_to_regs(do0, sB + qg * attn_STRIDE, sub, D);
  attn_row_to_regs(do1, sB + (qg + 16) * attn_STRIDE, sub, D);

  // Per query: lse, delta and the visible span [lo, hi]; an empty span for queries past T.
  const int tq0 = t0 + qg;
  const int tq1 = t0 + qg + 16;
  const bool ok0 = tq0 < T;
  const bool ok1 = tq1 < T;
  const float L0 = ok0 ? lseRow[tq0] : 0.f;
  const float L1 = ok1 ? lseRow[tq1] : 0.f;
  const float dl0 = ok0 ? deltaRow[tq0] : 0.f;
  const float dl1 = ok1 ? deltaRow[tq1] : 0.f;
  const int lo0 = ok0 ? ksRow[tq0] : 1;
  const int lo1 = ok1 ? ksRow[tq1] : 1;
  const int hi0 = ok0 ? tq0 : 0;
  const int hi1 = ok1 ? tq1 : 0;

  const int kBegin = ksRow[t0];
  const int kEnd = t0 + nq;
  for (int j0 = kBegin; j0 < kEnd; j0 += attn_TILE) {
    const int nk = attn_min(attn_TILE, kEnd - j0);
    __syncthreads();  // everyone is done with sA, sB (staging or previous tile)
    attn_load_tile<4, true>(sA, k + kvOff + (long long)j0 * kvTok, kvTok, nk, D);
    attn_load_tile<4, true>(sB, v + kvOff + (long long)j0 * kvTok, kvTok, nk, D);
    __syncthreads();
    for (int kj = 0; kj < nk; ++kj) {
      const int j = j0 + kj;
      float kv[16], vv[16];
#pragma unroll
      for (int d = 0; d < 16; ++d) {
        kv[d] = 0.f;
        vv[d] = 0.f;
      }
      attn_row_to_regs(kv, sA + kj * attn_STRIDE, sub, D);
      attn_row_to_regs(vv, sB + kj * attn_STRIDE, sub, D);
      float s0 = attn_dot16(qr0, kv, D);
      float s1 = attn_dot16(qr1, kv, D);
      float p0 = attn_dot16(do0, vv, D);
      float p1 = attn_dot16(do1, vv, D);
      s0 = attn_sum8(s0);
      s1 = attn_sum8(s1);
      p0 = attn_sum8(p0);
      p1 = attn_sum8(p1);
      const float pr0 = (j >= lo0 && j <= hi0) ? expf(s0 * scale - L0) : 0.f;
      const float pr1 = (j >= lo1 && j <= hi1) ? expf(s1 * scale - L1) : 0.f;
      const float ds0 = pr0 * (p0 - dl0);
      const float ds1 = pr1 * (p1 - dl1);
      attn_axpy16(dq0, ds0, kv, D);
      attn_axpy16(dq1, ds1, kv, D);
    }
  }

  __syncthreads();
  attn_regs_to_row(sA + qg * attn_STRIDE, dq0, scale, sub, D);
  attn_regs_to_row(sA + (qg + 16) * attn_STRIDE, dq1, scale, sub, D);
  __syncthreads();
  attn_add_tile<4>(dq + qOff + (long long)t0 * qTok, qTok, sA, nq, D);
}
