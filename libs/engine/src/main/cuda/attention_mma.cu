// Attention on the tensor cores: the causal grouped-query attention of attention.cu (same layouts,
// same masking, same outputs and accumulation rules) with every product of the forward and the
// backward on bf16 mma.sync tiles (m16n8k16, fp32 accumulation). The host hands the kernels bf16
// copies of q, k, v and dout; tiles move into shared memory with cp.async, the next tile's copy
// in flight while the current one is used; the probabilities (P, dS) are rounded to bf16 before
// they enter a product. Softmax statistics, lse, delta and every
// accumulator stay fp32. The backend uses these kernels for the bf16 training precision; the fp32
// kernels of attention.cu remain the exact path.
//
// Head dimension HD = 64 or 128 (kernels suffixed _d64 / _d128); sm_80 or newer.
//
// ------------------------------------------------------------------------------------------------
// LAUNCH CONFIGURATION (64 threads = 2 warps per block). Each kernel takes the arguments of its
// fp32 twin in attention.cu, in the same order, except that q, k, v and dout are bf16 copies
// (unsigned short, same layouts) of the fp32 tensors; D must equal HD, and the forward requires
// causal != 0 and a keyStart, and takes one more argument, out16: null, or where a bf16 copy of
// out goes:
//
//   attention_mma_forward_dHD   gridDim = (B * Hq, ceil(T / 32), 1)   as attention_forward
//   attention_mma_dkdv_dHD      gridDim = (B * Hkv, ceil(T / 32), S)  as attention_backward_dkdv
//                               (S splits of the group's query heads; partial slots when S > 1,
//                               added by attention_reduce_partials); dynamic shared memory
//                               12 * 32 * (HD + 8) + 768 bytes (52,992 for HD = 128: the host
//                               raises the kernel's dynamic shared memory limit first)
//   attention_mma_dq_dHD        gridDim = (B * Hq, ceil(T / 32), 1)   as attention_backward_dq
//
// Static shared memory of the other two is under 48 KB. Backward order and host guarantees as in
// attention.cu (attention_backward_delta, on the fp32 dout and out, first), plus: every bf16 row
// and tensor base address 16-byte aligned (HD is a multiple of 8 and the allocator aligns blocks
// to 256 bytes).
// ------------------------------------------------------------------------------------------------
//
// Fragment layouts of mma.m16n8k16 (lane = 4 * g + c, g = lane / 4, c = lane % 4):
//   A (16 x 16, row-major): a0 = A[g][2c..2c+1], a1 = A[g+8][2c..], a2 = A[g][2c+8..], a3 = A[g+8][2c+8..]
//   B (16 x 8, k x n):      b0 = B[2c..2c+1][g], b1 = B[2c+8..2c+9][g]
//   C (16 x 8, fp32):       c0, c1 = C[g][2c], C[g][2c+1]; c2, c3 = C[g+8][2c], C[g+8][2c+1]
// The C fragments of two adjacent 8-column tiles are, once packed to bf16, exactly the A fragment
// of one 16-wide k step, so probabilities go from one product into the next without shared memory.

static constexpr int amma_TILE = 32;
static constexpr float amma_LOG2E = 1.4426950408889634f;
static constexpr float amma_LN2 = 0.6931471805599453f;

// Two floats as one bf16x2 register (round to nearest even); lo takes the low half, as the
// fragment layouts need for the lower-indexed element.
static __device__ __forceinline__ unsigned amma_pack(float lo, float hi) {
  unsigned r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

static __device__ __forceinline__ unsigned amma_smem_address(const void* p) {
  unsigned a;
  asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }\n" : "=r"(a) : "l"(p));
  return a;
}

// Four 8 x 8 bf16 matrices from shared memory; lane l gives the address of row l % 8 of matrix l / 8.
static __device__ __forceinline__ void amma_ldsm(unsigned (&r)[4], const unsigned short* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(amma_smem_address(p)));
}

// As amma_ldsm, each matrix transposed.
static __device__ __forceinline__ void amma_ldsm_t(unsigned (&r)[4], const unsigned short* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(amma_smem_address(p)));
}

// c += a * b (one 16 x 8 x 16 product).
static __device__ __forceinline__ void amma_mma(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Shared-memory tiles: 32 rows of HD bf16, row stride HD + 8 elements, so that the eight 16-byte
// rows one ldmatrix reads start in eight different bank quads.
template <int HD>
struct AmmaTile {
  static constexpr int STRIDE = HD + 8;
  static constexpr int ELEMENTS = amma_TILE * STRIDE;
};

// Asynchronous 16-byte copy global -> shared (cp.async, L2 only); with valid false the 16 bytes
// are zero-filled and nothing is read.
static __device__ __forceinline__ void amma_copy16(unsigned short* dst, const unsigned short* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
               :
               : "r"(amma_smem_address(dst)), "l"(src), "r"(valid ? 16 : 0));
}

static __device__ __forceinline__ void amma_commit() { asm volatile("cp.async.commit_group;\n" ::); }

// Waits until at most N of this thread's committed copy groups are still in flight.
template <int N>
static __device__ __forceinline__ void amma_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Starts copying 32 token rows of HD bf16 (row r at src + r * tokStride) into a tile; rows >= nValid
// become zeros. All threads of the block; the data is there after amma_wait and __syncthreads.
template <int HD>
static __device__ __forceinline__ void amma_stage(
    unsigned short* __restrict__ dst, const unsigned short* __restrict__ src, long long tokStride, int nValid) {
  constexpr int CHUNKS = HD / 8;  // 16-byte chunks per row
  for (int i = threadIdx.x; i < amma_TILE * CHUNKS; i += blockDim.x) {
    const int r = i / CHUNKS;
    const int col = (i - r * CHUNKS) * 8;
    const bool ok = r < nValid;
    amma_copy16(dst + r * AmmaTile<HD>::STRIDE + col, src + (ok ? (long long)r * tokStride + col : 0LL), ok);
  }
}

// A fragment of rows [row0, row0 + 16), columns [col0, col0 + 16) of a row-major tile.
template <int HD>
static __device__ __forceinline__ void amma_load_a(
    unsigned (&a)[4], const unsigned short* tile, int row0, int col0) {
  const int lane = threadIdx.x & 31;
  const int m = lane >> 3;
  const int r = lane & 7;
  amma_ldsm(a, tile + (row0 + (m & 1) * 8 + r) * AmmaTile<HD>::STRIDE + col0 + (m >> 1) * 8);
}

// B fragments of two adjacent 8-column tiles, where B[k][n] = tile[n][k] (the tile's rows are
// the product's columns): rows [n0, n0 + 16), columns [k0, k0 + 16). b[0], b[1] belong to columns
// n0..n0+7 of the product, b[2], b[3] to n0+8..n0+15.
template <int HD>
static __device__ __forceinline__ void amma_load_b_rows_n(
    unsigned (&b)[4], const unsigned short* tile, int n0, int k0) {
  const int lane = threadIdx.x & 31;
  const int m = lane >> 3;
  const int r = lane & 7;
  amma_ldsm(b, tile + (n0 + (m >> 1) * 8 + r) * AmmaTile<HD>::STRIDE + k0 + (m & 1) * 8);
}

// B fragments of two adjacent 8-column tiles, where B[k][n] = tile[k][n] (the tile's rows are the
// product's k): rows [k0, k0 + 16), columns [n0, n0 + 16); the same b[] order as above.
template <int HD>
static __device__ __forceinline__ void amma_load_b_rows_k(
    unsigned (&b)[4], const unsigned short* tile, int k0, int n0) {
  const int lane = threadIdx.x & 31;
  const int m = lane >> 3;
  const int r = lane & 7;
  amma_ldsm_t(b, tile + (k0 + (m & 1) * 8 + r) * AmmaTile<HD>::STRIDE + n0 + (m >> 1) * 8);
}

// acc[16 x 32] = A[16 rows from row0 of tileA] . tileB[32 rows]^T over HD: a score-like product
// whose 4 column tiles are the 32 rows of tileB.
template <int HD>
static __device__ __forceinline__ void amma_scores(
    float (&acc)[4][4], const unsigned short* tileA, int row0, const unsigned short* tileB) {
#pragma unroll
  for (int n = 0; n < 4; ++n) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      acc[n][e] = 0.f;
    }
  }
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) {
    unsigned a[4];
    amma_load_a<HD>(a, tileA, row0, kk * 16);
#pragma unroll
    for (int np = 0; np < 2; ++np) {
      unsigned b[4];
      amma_load_b_rows_n<HD>(b, tileB, np * 16, kk * 16);
      amma_mma(acc[2 * np], a, b[0], b[1]);
      amma_mma(acc[2 * np + 1], a, b[2], b[3]);
    }
  }
}

// As amma_scores, with the A fragments already in registers.
template <int HD>
static __device__ __forceinline__ void amma_scores_regs(
    float (&acc)[4][4], const unsigned (&a)[HD / 16][4], const unsigned short* tileB) {
#pragma unroll
  for (int n = 0; n < 4; ++n) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      acc[n][e] = 0.f;
    }
  }
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) {
#pragma unroll
    for (int np = 0; np < 2; ++np) {
      unsigned b[4];
      amma_load_b_rows_n<HD>(b, tileB, np * 16, kk * 16);
      amma_mma(acc[2 * np], a[kk], b[0], b[1]);
      amma_mma(acc[2 * np + 1], a[kk], b[2], b[3]);
    }
  }
}

// acc[16 x HD] += P[16 x 32] . tile[32 x HD], with P given as fp32 C fragments (4 tiles of 8
// columns), rounded to bf16 here.
template <int HD>
static __device__ __forceinline__ void amma_accumulate(
    float (&acc)[HD / 8][4], const float (&p)[4][4], const unsigned short* tile) {
#pragma unroll
  for (int kk = 0; kk < 2; ++kk) {
    unsigned a[4];
    a[0] = amma_pack(p[2 * kk][0], p[2 * kk][1]);
    a[1] = amma_pack(p[2 * kk][2], p[2 * kk][3]);
    a[2] = amma_pack(p[2 * kk + 1][0], p[2 * kk + 1][1]);
    a[3] = amma_pack(p[2 * kk + 1][2], p[2 * kk + 1][3]);
#pragma unroll
    for (int np = 0; np < HD / 16; ++np) {
      unsigned b[4];
      amma_load_b_rows_k<HD>(b, tile, kk * 16, np * 16);
      amma_mma(acc[2 * np], a, b[0], b[1]);
      amma_mma(acc[2 * np + 1], a, b[2], b[3]);
    }
  }
}

template <int HD>
static __device__ __forceinline__ void amma_zero(float (&acc)[HD / 8][4]) {
#pragma unroll
  for (int n = 0; n < HD / 8; ++n) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      acc[n][e] = 0.f;
    }
  }
}

// dst rows (this thread's rows g and g + 8 of the warp's 16, from row dst0) += f * acc, or = f * acc
// when add is false; rows at or past nValid are skipped. Four lanes write 32 contiguous bytes.
template <int HD>
static __device__ __forceinline__ void amma_write_rows(
    float* __restrict__ dst, long long tokStride, const float (&acc)[HD / 8][4], float f0, float f1,
    int nValid, bool add) {
  const int lane = threadIdx.x & 31;
  const int g = lane >> 2;
  const int c = lane & 3;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int r = g + 8 * half;
    if (r < nValid) {
      float* rowp = dst + (long long)r * tokStride;
      const float f = half == 0 ? f0 : f1;
#pragma unroll
      for (int n = 0; n < HD / 8; ++n) {
        float2* at = reinterpret_cast<float2*>(rowp + n * 8 + 2 * c);
        float2 v;
        v.x = acc[n][2 * half] * f;
        v.y = acc[n][2 * half + 1] * f;
        if (add) {
          const float2 old = *at;
          v.x += old.x;
          v.y += old.y;
        }
        *at = v;
      }
    }
  }
}

// Dynamic shared memory of the dK/dV kernel (over the 48 KB a static array may take).
extern __shared__ __align__(16) unsigned short amma_dynamic[];

// The bf16 twin of amma_write_rows (overwriting): a bf16 copy of what it wrote, for the GEMM that
// reads the attention output next.
template <int HD>
static __device__ __forceinline__ void amma_write_rows16(
    unsigned short* __restrict__ dst, long long tokStride, const float (&acc)[HD / 8][4], float f0,
    float f1, int nValid) {
  const int lane = threadIdx.x & 31;
  const int g = lane >> 2;
  const int c = lane & 3;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int r = g + 8 * half;
    if (r < nValid) {
      unsigned short* rowp = dst + (long long)r * tokStride;
      const float f = half == 0 ? f0 : f1;
#pragma unroll
      for (int n = 0; n < HD / 8; ++n) {
        *reinterpret_cast<unsigned*>(rowp + n * 8 + 2 * c) =
            amma_pack(acc[n][2 * half] * f, acc[n][2 * half + 1] * f);
      }
    }
  }
}

// Forward. Block: 32 queries [t0, t0 + 32) of one (row b, query head h), tiles scheduled longest
// first as in attention_forward; warp w owns queries t0 + 16w .. + 15 and keeps their Q fragments
// in registers. Key tiles of 32 keys (K and V) stream through two shared buffers, the next tile's
// copy in flight while the current one is used: S = Q K^T on the tensor cores, masked, an online
// softmax in the log2 domain (running max and sum per query row, reduced over the 4 lanes that
// share a row), then O += P V.
template <int HD>
static __device__ __forceinline__ void amma_forward(
    const unsigned short* __restrict__ q, const unsigned short* __restrict__ k,
    const unsigned short* __restrict__ v, const int* __restrict__ keyStart, float* __restrict__ out,
    float* __restrict__ lse, int T, int Hq, int Hkv, float scale, unsigned short* __restrict__ out16) {
  constexpr int E = AmmaTile<HD>::ELEMENTS;
  __shared__ __align__(16) unsigned short sQ[E];
  __shared__ __align__(16) unsigned short sK[2 * E];
  __shared__ __align__(16) unsigned short sV[2 * E];
  const float negInf = -__int_as_float(0x7f800000);

  const int b = blockIdx.x / Hq;
  const int h = blockIdx.x - b * Hq;
  const int kvHead = h / (Hq / Hkv);
  const int t0 = (int)(gridDim.y - 1 - blockIdx.y) * amma_TILE;
  const int nq = min(amma_TILE, T - t0);
  const int warp = threadIdx.x >> 5;
  const int lane = threadIdx.x & 31;
  const int g = lane >> 2;
  const int c = lane & 3;

  const long long qTok = (long long)Hq * HD;
  const long long kvTok = (long long)Hkv * HD;
  const unsigned short* kBase = k + ((long long)b * T * Hkv + kvHead) * HD;
  const unsigned short* vBase = v + ((long long)b * T * Hkv + kvHead) * HD;
  const int* ksRow = keyStart + (long long)b * T;
  const int kBegin = ksRow[t0];
  const int kEnd = t0 + nq;

  amma_stage<HD>(sQ, q + (((long long)b * T + t0) * Hq + h) * HD, qTok, nq);
  amma_commit();
  amma_stage<HD>(sK, kBase + (long long)kBegin * kvTok, kvTok, min(amma_TILE, kEnd - kBegin));
  amma_stage<HD>(sV, vBase + (long long)kBegin * kvTok, kvTok, min(amma_TILE, kEnd - kBegin));
  amma_commit();
  amma_wait<1>();  // the Q tile
  __syncthreads();
  unsigned qf[HD / 16][4];
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) {
    amma_load_a<HD>(qf[kk], sQ, 16 * warp, kk * 16);
  }

  // This thread's two query rows: visible keys [lo, hi]; empty past T.
  int lo[2];
  int hi[2];
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int tq = t0 + 16 * warp + g + 8 * half;
    lo[half] = tq < T ? ksRow[tq] : 1;
    hi[half] = tq < T ? tq : 0;
  }
  const float scaleLog2 = scale * amma_LOG2E;
  float mRun[2] = {negInf, negInf};
  float lRun[2] = {0.f, 0.f};
  float o[HD / 8][4];
  amma_zero<HD>(o);

  int buf = 0;
  for (int j0 = kBegin; j0 < kEnd; j0 += amma_TILE, buf ^= 1) {
    const int jn = j0 + amma_TILE;
    if (jn < kEnd) {  // the next tile into the other buffer, freed at the end of the last pass
      amma_stage<HD>(sK + (buf ^ 1) * E, kBase + (long long)jn * kvTok, kvTok, min(amma_TILE, kEnd - jn));
      amma_stage<HD>(sV + (buf ^ 1) * E, vBase + (long long)jn * kvTok, kvTok, min(amma_TILE, kEnd - jn));
    }
    amma_commit();
    amma_wait<1>();  // this tile's copies
    __syncthreads();
    const unsigned short* tileK = sK + buf * E;
    const unsigned short* tileV = sV + buf * E;

    float s[4][4];
    amma_scores_regs<HD>(s, qf, tileK);
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float mt = negInf;
#pragma unroll
      for (int n = 0; n < 4; ++n) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int key = j0 + n * 8 + 2 * c + e;
          float& x = s[n][2 * half + e];
          x = (key >= lo[half] && key <= hi[half]) ? x * scaleLog2 : negInf;
          mt = fmaxf(mt, x);
        }
      }
      mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 1));
      mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 2));
      const float mNew = fmaxf(mRun[half], mt);
      const float mUse = mNew == negInf ? 0.f : mNew;  // nothing visible yet: every p is 0
      const float alpha = exp2f(mRun[half] - mUse);
      float rs = 0.f;
#pragma unroll
      for (int n = 0; n < 4; ++n) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float& x = s[n][2 * half + e];
          x = exp2f(x - mUse);
          rs += x;
        }
      }
      rs += __shfl_xor_sync(0xffffffffu, rs, 1);
      rs += __shfl_xor_sync(0xffffffffu, rs, 2);
      lRun[half] = lRun[half] * alpha + rs;
      mRun[half] = mNew;
#pragma unroll
      for (int n = 0; n < HD / 8; ++n) {
        o[n][2 * half] *= alpha;
        o[n][2 * half + 1] *= alpha;
      }
    }
    amma_accumulate<HD>(o, s, tileV);
    __syncthreads();  // both warps are done with this buffer before it is refilled
  }

  const int row0 = t0 + 16 * warp;
  const int valid = min(16, T - row0);
  if (valid > 0) {
    const float inv0 = lRun[0] > 0.f ? 1.f / lRun[0] : 0.f;
    const float inv1 = lRun[1] > 0.f ? 1.f / lRun[1] : 0.f;
    amma_write_rows<HD>(out + (((long long)b * T + row0) * Hq + h) * HD, qTok, o, inv0, inv1, valid, false);
    if (out16 != nullptr) {
      amma_write_rows16<HD>(out16 + (((long long)b * T + row0) * Hq + h) * HD, qTok, o, inv0, inv1, valid);
    }
    if (lse != nullptr && c == 0) {
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        if (g + 8 * half < valid) {
          lse[((long long)b * Hq + h) * T + row0 + g + 8 * half] = (mRun[half] + log2f(lRun[half])) * amma_LN2;
        }
      }
    }
  }
}

// dk, dv. Block: 32 keys [k0, k0 + 32) of one (row b, k/v head), warp w owns keys k0 + 16w .. + 15
// and accumulates their dK and dV in registers. The block walks (query head of its split, query
// tile from k0 on, up to where keyStart passes the last key); Q and dO tiles and their lse, delta
// and keyStart stream through two buffers in dynamic shared memory, the next pair's copy in flight
// while the current one is used. Per tile and warp: S^T = K Q^T, dP^T = V dO^T,
// P^T = exp(scale S^T - lse), dS^T = P^T (dP^T - delta), dV += P^T dO, dK += dS^T Q. Finally dK is
// scaled by `scale`.
template <int HD>
static __device__ __forceinline__ void amma_dkdv(
    const unsigned short* __restrict__ q, const unsigned short* __restrict__ k,
    const unsigned short* __restrict__ v, const unsigned short* __restrict__ dout,
    const float* __restrict__ lse, const float* __restrict__ delta, const int* __restrict__ keyStart,
    float* __restrict__ dk, float* __restrict__ dv, float* __restrict__ dkPart,
    float* __restrict__ dvPart, int B, int T, int Hq, int Hkv, float scale) {
  constexpr int E = AmmaTile<HD>::ELEMENTS;
  unsigned short* sK = amma_dynamic;
  unsigned short* sV = sK + E;
  unsigned short* sQ = sV + E;      // two buffers
  unsigned short* sDO = sQ + 2 * E;  // two buffers
  float* sLse = reinterpret_cast<float*>(sDO + 2 * E);  // two buffers of 32 (log2 domain)
  float* sDelta = sLse + 2 * amma_TILE;
  int* sKs = reinterpret_cast<int*>(sDelta + 2 * amma_TILE);

  const int b = blockIdx.x / Hkv;
  const int kvHead = blockIdx.x - b * Hkv;
  const int group = Hq / Hkv;
  const int k0 = (int)blockIdx.y * amma_TILE;
  const int nk = min(amma_TILE, T - k0);
  const int kLast = k0 + nk - 1;
  const int warp = threadIdx.x >> 5;
  const int lane = threadIdx.x & 31;
  const int g = lane >> 2;
  const int c = lane & 3;

  const long long qTok = (long long)Hq * HD;
  const long long kvTok = (long long)Hkv * HD;
  const long long kvOff = (((long long)b * T + k0) * Hkv + kvHead) * HD;
  const int* ksRow = keyStart + (long long)b * T;
  const float scaleLog2 = scale * amma_LOG2E;

  // Query tiles that see these keys: from k0 until keyStart (non-decreasing) passes the last key.
  int qTiles = 0;
  while (k0 + qTiles * amma_TILE < T && ksRow[k0 + qTiles * amma_TILE] <= kLast) {
    ++qTiles;
  }
  const int headsPerSplit = group / (int)gridDim.z;
  const int hFirst = kvHead * group + (int)blockIdx.z * headsPerSplit;
  const int steps = headsPerSplit * qTiles;

  amma_stage<HD>(sK, k + kvOff, kvTok, nk);
  amma_stage<HD>(sV, v + kvOff, kvTok, nk);

  // Starts loading step i's Q and dO tiles and statistics into buffer slot.
  auto prefetch = [&](int i, int slot) {
    const int h = hFirst + i / qTiles;
    const int q0 = k0 + (i % qTiles) * amma_TILE;
    const int nq = min(amma_TILE, T - q0);
    const long long qOff = (((long long)b * T + q0) * Hq + h) * HD;
    amma_stage<HD>(sQ + slot * E, q + qOff, qTok, nq);
    amma_stage<HD>(sDO + slot * E, dout + qOff, qTok, nq);
    if (threadIdx.x < amma_TILE) {
      const int t = threadIdx.x;
      const bool ok = t < nq;
      sLse[slot * amma_TILE + t] = ok ? lse[((long long)b * Hq + h) * T + q0 + t] * amma_LOG2E : 0.f;
      sDelta[slot * amma_TILE + t] = ok ? delta[((long long)b * Hq + h) * T + q0 + t] : 0.f;
      sKs[slot * amma_TILE + t] = ok ? ksRow[q0 + t] : T;
    }
  };
  prefetch(0, 0);
  amma_commit();

  // This thread's two keys (rows g and g + 8 of the warp's 16).
  const int key0 = k0 + 16 * warp + g;
  const int key1 = key0 + 8;

  float dkAcc[HD / 8][4];
  float dvAcc[HD / 8][4];
  amma_zero<HD>(dkAcc);
  amma_zero<HD>(dvAcc);

  for (int i = 0; i < steps; ++i) {
    const int slot = i & 1;
    if (i + 1 < steps) {
      prefetch(i + 1, slot ^ 1);
    }
    amma_commit();
    amma_wait<1>();  // K, V and this step's tiles
    __syncthreads();
    const unsigned short* tileQ = sQ + slot * E;
    const unsigned short* tileDO = sDO + slot * E;
    const float* stLse = sLse + slot * amma_TILE;
    const float* stDelta = sDelta + slot * amma_TILE;
    const int* stKs = sKs + slot * amma_TILE;
    const int q0 = k0 + (i % qTiles) * amma_TILE;

    float p[4][4];
    float dp[4][4];
    amma_scores<HD>(p, sK, 16 * warp, tileQ);
    amma_scores<HD>(dp, sV, 16 * warp, tileDO);
    // Element (key row g + 8 * (e / 2), query column n * 8 + 2c + e % 2).
#pragma unroll
    for (int n = 0; n < 4; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int col = n * 8 + 2 * c + (e & 1);
        const int key = (e < 2) ? key0 : key1;
        const bool visible = key >= stKs[col] && key <= q0 + col;
        const float pr = visible ? exp2f(p[n][e] * scaleLog2 - stLse[col]) : 0.f;
        p[n][e] = pr;
        dp[n][e] = pr * (dp[n][e] - stDelta[col]);
      }
    }
    amma_accumulate<HD>(dvAcc, p, tileDO);
    amma_accumulate<HD>(dkAcc, dp, tileQ);
    __syncthreads();  // both warps are done with this slot before it is refilled
  }

  const int rows = min(16, nk - 16 * warp);
  if (rows > 0) {
    const long long warpOff = kvOff + (long long)16 * warp * kvTok;
    if (gridDim.z == 1) {
      amma_write_rows<HD>(dk + warpOff, kvTok, dkAcc, scale, scale, rows, true);
      amma_write_rows<HD>(dv + warpOff, kvTok, dvAcc, 1.f, 1.f, rows, true);
    } else {
      const long long slotOff = (long long)blockIdx.z * B * T * Hkv * HD;
      amma_write_rows<HD>(dkPart + slotOff + warpOff, kvTok, dkAcc, scale, scale, rows, false);
      amma_write_rows<HD>(dvPart + slotOff + warpOff, kvTok, dvAcc, 1.f, 1.f, rows, false);
    }
  }
}

// dq. Block: 32 queries [t0, t0 + 32) of one (row b, query head h), warp w owns queries
// t0 + 16w .. + 15 and keeps their Q and dO fragments in registers. Key tiles (K and V) stream
// through two shared buffers, the next tile's copy in flight while the current one is used; per
// tile S = Q K^T, dP = dO V^T, P = exp(scale S - lse), dS = P (dP - delta), dQ += dS K. Finally
// dq += scale * dQ.
template <int HD>
static __device__ __forceinline__ void amma_dq(
    const unsigned short* __restrict__ q, const unsigned short* __restrict__ k,
    const unsigned short* __restrict__ v, const unsigned short* __restrict__ dout,
    const float* __restrict__ lse, const float* __restrict__ delta, const int* __restrict__ keyStart,
    float* __restrict__ dq, int T, int Hq, int Hkv, float scale) {
  constexpr int E = AmmaTile<HD>::ELEMENTS;
  __shared__ __align__(16) unsigned short sK[2 * E];
  __shared__ __align__(16) unsigned short sV[2 * E];

  const int b = blockIdx.x / Hq;
  const int h = blockIdx.x - b * Hq;
  const int kvHead = h / (Hq / Hkv);
  const int t0 = (int)(gridDim.y - 1 - blockIdx.y) * amma_TILE;
  const int nq = min(amma_TILE, T - t0);
  const int warp = threadIdx.x >> 5;
  const int lane = threadIdx.x & 31;
  const int g = lane >> 2;
  const int c = lane & 3;

  const long long qTok = (long long)Hq * HD;
  const long long kvTok = (long long)Hkv * HD;
  const long long qOff = (((long long)b * T + t0) * Hq + h) * HD;
  const unsigned short* kBase = k + ((long long)b * T * Hkv + kvHead) * HD;
  const unsigned short* vBase = v + ((long long)b * T * Hkv + kvHead) * HD;
  const int* ksRow = keyStart + (long long)b * T;
  const float scaleLog2 = scale * amma_LOG2E;
  const int kBegin = ksRow[t0];
  const int kEnd = t0 + nq;

  // Q and dO pass through the second buffers on their way to registers.
  amma_stage<HD>(sK + E, q + qOff, qTok, nq);
  amma_stage<HD>(sV + E, dout + qOff, qTok, nq);
  amma_commit();
  amma_stage<HD>(sK, kBase + (long long)kBegin * kvTok, kvTok, min(amma_TILE, kEnd - kBegin));
  amma_stage<HD>(sV, vBase + (long long)kBegin * kvTok, kvTok, min(amma_TILE, kEnd - kBegin));
  amma_commit();
  amma_wait<1>();
  __syncthreads();
  unsigned qf[HD / 16][4];
  unsigned df[HD / 16][4];
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) {
    amma_load_a<HD>(qf[kk], sK + E, 16 * warp, kk * 16);
    amma_load_a<HD>(df[kk], sV + E, 16 * warp, kk * 16);
  }
  __syncthreads();  // every fragment is read before the second buffers are refilled

  // This thread's two query rows: lse (log2 domain), delta, visible keys [lo, hi].
  float rowLse[2];
  float rowDelta[2];
  int lo[2];
  int hi[2];
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int tq = t0 + 16 * warp + g + 8 * half;
    const bool ok = tq < T;
    rowLse[half] = ok ? lse[((long long)b * Hq + h) * T + tq] * amma_LOG2E : 0.f;
    rowDelta[half] = ok ? delta[((long long)b * Hq + h) * T + tq] : 0.f;
    lo[half] = ok ? ksRow[tq] : 1;
    hi[half] = ok ? tq : 0;
  }

  float dqAcc[HD / 8][4];
  amma_zero<HD>(dqAcc);
  int buf = 0;
  for (int j0 = kBegin; j0 < kEnd; j0 += amma_TILE, buf ^= 1) {
    const int jn = j0 + amma_TILE;
    if (jn < kEnd) {
      amma_stage<HD>(sK + (buf ^ 1) * E, kBase + (long long)jn * kvTok, kvTok, min(amma_TILE, kEnd - jn));
      amma_stage<HD>(sV + (buf ^ 1) * E, vBase + (long long)jn * kvTok, kvTok, min(amma_TILE, kEnd - jn));
    }
    amma_commit();
    amma_wait<1>();
    __syncthreads();
    const unsigned short* tileK = sK + buf * E;
    const unsigned short* tileV = sV + buf * E;

    float p[4][4];
    float dp[4][4];
    amma_scores_regs<HD>(p, qf, tileK);
    amma_scores_regs<HD>(dp, df, tileV);
#pragma unroll
    for (int n = 0; n < 4; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int half = e >> 1;
        const int key = j0 + n * 8 + 2 * c + (e & 1);
        const bool visible = key >= lo[half] && key <= hi[half];
        const float pr = visible ? exp2f(p[n][e] * scaleLog2 - rowLse[half]) : 0.f;
        dp[n][e] = pr * (dp[n][e] - rowDelta[half]);
      }
    }
    amma_accumulate<HD>(dqAcc, dp, tileK);
    __syncthreads();  // both warps are done with this buffer before it is refilled
  }

  const int row0 = t0 + 16 * warp;
  const int valid = min(16, T - row0);
  if (valid > 0) {
    amma_write_rows<HD>(dq + (((long long)b * T + row0) * Hq + h) * HD, qTok, dqAcc, scale, scale, valid, true);
  }
}

#define AMMA_KERNELS(HD)                                                                            \
  extern "C" __global__ void __launch_bounds__(64) attention_mma_forward_d##HD(                     \
      const unsigned short* __restrict__ q, const unsigned short* __restrict__ k,                   \
      const unsigned short* __restrict__ v, const int* __restrict__ keyStart, float* __restrict__ out, float* __restrict__ lse, int B,    \
      int T, int Hq, int Hkv, int D, float scale, int causal, unsigned short* __restrict__ out16) {  \
    (void)B;                                                                                        \
    (void)D;                                                                                        \
    (void)causal;                                                                                   \
    amma_forward<HD>(q, k, v, keyStart, out, lse, T, Hq, Hkv, scale, out16);                        \
  }                                                                                                 \
  extern "C" __global__ void __launch_bounds__(64) attention_mma_dkdv_d##HD(                        \
      const unsigned short* __restrict__ q, const unsigned short* __restrict__ k,                   \
      const unsigned short* __restrict__ v, const unsigned short* __restrict__ dout,                \
      const float* __restrict__ lse, const float* __restrict__ delta,                               \
      const int* __restrict__ keyStart, float* __restrict__ dk,    \
      float* __restrict__ dv, float* __restrict__ dkPart, float* __restrict__ dvPart, int B, int T, \
      int Hq, int Hkv, int D, float scale) {                                                        \
    (void)D;                                                                                        \
    amma_dkdv<HD>(q, k, v, dout, lse, delta, keyStart, dk, dv, dkPart, dvPart, B, T, Hq, Hkv,       \
                  scale);                                                                           \
  }                                                                                                 \
  extern "C" __global__ void __launch_bounds__(64) attention_mma_dq_d##HD(                          \
      const unsigned short* __restrict__ q, const unsigned short* __restrict__ k,                   \
      const unsigned short* __restrict__ v, const unsigned short* __restrict__ dout,                \
      const float* __restrict__ lse, const float* __restrict__ delta,                               \
      const int* __restrict__ keyStart, float* __restrict__ dq,    \
      int B, int T, int Hq, int Hkv, int D, float scale) {                                          \
    (void)B;                                                                                        \
    (void)D;                                                                                        \
    amma_dq<HD>(q, k, v, dout, lse, delta, keyStart, dq, T, Hq, Hkv, scale);                        \
  }

AMMA_KERNELS(64)
AMMA_KERNELS(128)
