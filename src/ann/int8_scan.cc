#include "ann/int8_scan.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/cpu_clones.h"

namespace embedrec::ann {
namespace {

constexpr int64_t kGroupBytes = kChunk * 4;  // one group of four dimensions of a chunk

// The largest |x| of n values.
float MaxAbs(const float* x, int n) {
  float m = 0;
  for (int j = 0; j < n; ++j) m = std::max(m, std::abs(x[j]));
  return m;
}

int8_t Round(float x, float inv_scale) {
  return static_cast<int8_t>(std::clamp(std::lrint(x * inv_scale), -127L, 127L));
}

// The integer sums back to floats; both kernels end here so that they give
// the same floats.
float ScoreOf(int32_t acc, const Int8Query& q, float row_scale) {
  return static_cast<float>(acc - 128 * q.sum) * row_scale * q.scale;
}

EMBEDREC_CPU_CLONES
void ChunkScoresPortable(const uint8_t* chunk, const float* scales, const Int8Query& q, float* out) {
  int32_t acc[kChunk] = {};
  for (size_t g = 0; g < q.groups.size(); ++g) {
    int8_t qb[4];
    std::memcpy(qb, &q.groups[g], 4);
    const uint8_t* block = chunk + static_cast<int64_t>(g) * kGroupBytes;
    for (int t = 0; t < kChunk; ++t) {
      const uint8_t* r = block + 4 * t;
      acc[t] += r[0] * qb[0] + r[1] * qb[1] + r[2] * qb[2] + r[3] * qb[3];
    }
  }
  for (int t = 0; t < kChunk; ++t) out[t] = ScoreOf(acc[t], q, scales[t]);
}

// GCC 12's _mm512_cvtepi32_ps reads an "undefined" vector it then overwrites
// whole, and warns about it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
// AVX-512 VNNI: vpdpbusd multiplies four unsigned row bytes by four signed
// query bytes and adds the four products to a 32-bit lane, 16 rows at once.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void ChunkScoresVnni(const uint8_t* chunk,
                                                                          const float* scales,
                                                                          const Int8Query& q,
                                                                          float* out) {
  static_assert(kChunk == 64, "four 16-lane accumulators per chunk");
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  const uint8_t* block = chunk;
  for (int32_t g : q.groups) {
    const __m512i qb = _mm512_set1_epi32(g);
    a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(block), qb);
    a1 = _mm512_dpbusd_epi32(a1, _mm512_loadu_si512(block + 64), qb);
    a2 = _mm512_dpbusd_epi32(a2, _mm512_loadu_si512(block + 128), qb);
    a3 = _mm512_dpbusd_epi32(a3, _mm512_loadu_si512(block + 192), qb);
    block += kGroupBytes;
  }
  const __m512i offset = _mm512_set1_epi32(128 * q.sum);
  const __m512 qscale = _mm512_set1_ps(q.scale);
  const __m512i acc[4] = {a0, a1, a2, a3};
  for (int i = 0; i < 4; ++i) {
    __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i], offset));
    f = _mm512_mul_ps(_mm512_mul_ps(f, _mm512_loadu_ps(scales + 16 * i)), qscale);
    _mm512_storeu_ps(out + 16 * i, f);
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

bool HasVnni() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vnni");
  return has;
}

}  // namespace

int Int8Dims(int d) { return (d + 3) / 4 * 4; }

void PutInt8Row(const float* r, int d, int64_t slot, uint8_t* chunks, float* scales) {
  const float m = MaxAbs(r, d);
  const float scale = m / 127.0f;
  scales[slot] = scale;
  const float inv = m > 0 ? 127.0f / m : 0.0f;
  uint8_t* chunk = chunks + (slot / kChunk) * Int8ChunkBytes(d);
  const int64_t t = slot % kChunk;
  for (int j = 0; j < Int8Dims(d); ++j) {
    const int v = j < d ? Round(r[j], inv) : 0;
    chunk[(j / 4) * kGroupBytes + 4 * t + j % 4] = static_cast<uint8_t>(v + 128);
  }
}

Int8Rows::Int8Rows(int d, int64_t slots)
    : d_(d),
      chunk_bytes_(Int8ChunkBytes(d)),
      bytes_(static_cast<size_t>((slots + kChunk - 1) / kChunk * chunk_bytes_), 0),
      scales_(static_cast<size_t>((slots + kChunk - 1) / kChunk * kChunk), 0.0f) {}

void QuantizeQuery(const float* q, int d, Int8Query* out) {
  const float m = MaxAbs(q, d);
  out->scale = m / 127.0f;
  const float inv = m > 0 ? 127.0f / m : 0.0f;
  out->groups.assign(static_cast<size_t>(Int8Dims(d) / 4), 0);
  out->sum = 0;
  for (int j = 0; j < d; ++j) {
    const int8_t v = Round(q[j], inv);
    out->sum += v;
    // Little-endian: byte j % 4 of group j / 4.
    reinterpret_cast<unsigned char*>(out->groups.data())[j] = static_cast<unsigned char>(v);
  }
}

void Int8ChunkScores(const uint8_t* chunk, const float* scales, const Int8Query& q, float* out) {
  if (HasVnni()) return ChunkScoresVnni(chunk, scales, q, out);
  ChunkScoresPortable(chunk, scales, q, out);
}

// For tests: both kernels, whatever the CPU.
namespace internal {
bool Int8HasVnni() { return HasVnni(); }
void Int8ChunkScoresPortable(const uint8_t* chunk, const float* scales, const Int8Query& q, float* out) {
  ChunkScoresPortable(chunk, scales, q, out);
}
}  // namespace internal

}  // namespace embedrec::ann
