/* rc_binlog_crc.c: the binlog's CRC32 (ISO-HDLC, as zlib's crc32) at memory speed.
 *
 * Where the CPU has carry-less multiplication (PCLMULQDQ, x86-64 since 2010), the bulk of an
 * event is folded 64 bytes per step with it (the folding method of Intel's white paper "Fast
 * CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction", constants for the
 * bit-reflected polynomial 0x04C11DB7), 128 bytes per step where it also has the 256-bit form
 * (VPCLMULQDQ), 256 where it has the 512-bit one (AVX-512), and the last 1-15 bytes by one
 * more fold of the 16 bytes that end the data.
 * zlib's own crc32 (1.2.13, table-driven) took half of the decoder's time on a sysbench-shaped
 * binlog; it still takes events shorter than 64 bytes. */
#include <zlib.h>

#include "rc_binlog_int.h"

/* zlib on any length (its length argument is 32-bit). */
static uint32_t crc_zlib(uint32_t crc, const uint8_t *p, size_t len) {
    while (len > 0) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = (uint32_t)crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define RC_CRC_CLMUL 1

/* x^(512+64) and x^(512) mod P (fold by 4 x 128 bits), x^(128+64) and x^128 (fold by 128
 * bits), x^64 (fold 64 to 32), and P' and u' = x^64 / P for the Barrett reduction, all
 * bit-reflected. */
static const uint64_t k_fold4[2] = {0x0154442bd4ULL, 0x01c6e41596ULL};
/* x^(1024+64) and x^1024 mod P (fold by 4 x 256 bits), twice: one pair per 128-bit lane */
static const uint64_t k_fold8[4] = {0x01e88ef372ULL, 0x014a7fe880ULL, 0x01e88ef372ULL,
                                    0x014a7fe880ULL};
/* x^(2048+64) and x^2048 mod P (fold by 4 x 512 bits), once per 128-bit lane */
static const uint64_t k_fold16[2] = {0x011542778aULL, 0x01322d1430ULL};
static const uint64_t k_fold1[2] = {0x01751997d0ULL, 0x00ccaa009eULL};
static const uint64_t k_fold64[2] = {0x0163cd6124ULL, 0};
static const uint64_t k_barrett[2] = {0x01db710641ULL, 0x01f7011641ULL};
/* Byte shuffles for the last 1-15 bytes: 16 bytes from k_shuf + n move a register's bytes n
 * places up, from k_shuf + 16 + n n places down (0x80: a zero byte). */
static const uint8_t k_shuf[48] = {
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0,    1,    2,    3,    4,    5,    6,    7,    8,    9,    10,   11,   12,   13,   14,   15,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};

/* One 128-bit fold of x into the next 128 bits at distance k. */
__attribute__((target("pclmul,sse4.1"))) static inline __m128i fold(__m128i x, __m128i k,
                                                                    __m128i next) {
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(hi, lo), next);
}

/* The CRC register (not inverted) from four 128-bit accumulators x1..x4 (the bytes before p
 * folded into them, the last 64 of those just loaded) and len more bytes at p. Shared by every
 * folding path, and compiled into each with its target. */
__attribute__((target("pclmul,sse4.1"))) static inline __attribute__((always_inline)) uint32_t
crc_clmul_tail(__m128i x1, __m128i x2, __m128i x3, __m128i x4, const uint8_t *p, size_t len) {
    __m128i k = _mm_loadu_si128((const __m128i *)(const void *)k_fold4);
    while (len >= 64) {
        x1 = fold(x1, k, _mm_loadu_si128((const __m128i *)(const void *)(p + 0)));
        x2 = fold(x2, k, _mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
        x3 = fold(x3, k, _mm_loadu_si128((const __m128i *)(const void *)(p + 32)));
        x4 = fold(x4, k, _mm_loadu_si128((const __m128i *)(const void *)(p + 48)));
        p += 64;
        len -= 64;
    }
    k = _mm_loadu_si128((const __m128i *)(const void *)k_fold1);
    x1 = fold(x1, k, x2);
    x1 = fold(x1, k, x3);
    x1 = fold(x1, k, x4);
    while (len >= 16) {
        x1 = fold(x1, k, _mm_loadu_si128((const __m128i *)(const void *)p));
        p += 16;
        len -= 16;
    }
    if (len > 0) {
        /* the last len (1-15) bytes, as if the data were 16 - len zero bytes longer at its
         * front: x1's first len bytes make a block of their own, folded into the 16 that end
         * the data (x1's other bytes, then the len new ones, read with the 16 - len before
         * them, which x1 already holds); in place of zlib's call (about 100 instructions) */
        __m128i up = _mm_loadu_si128((const __m128i *)(const void *)(k_shuf + len));
        __m128i down = _mm_loadu_si128((const __m128i *)(const void *)(k_shuf + 16 + len));
        __m128i last = _mm_loadu_si128((const __m128i *)(const void *)(p + len - 16));
        __m128i rest = _mm_blendv_epi8(last, _mm_shuffle_epi8(x1, down), up);
        x1 = fold(_mm_shuffle_epi8(x1, up), k, rest);
    }
    /* 128 bits to 64 */
    __m128i mask32 = _mm_setr_epi32(-1, 0, -1, 0);
    __m128i t = _mm_clmulepi64_si128(x1, k, 0x10);
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), t);
    k = _mm_loadu_si128((const __m128i *)(const void *)k_fold64);
    t = _mm_srli_si128(x1, 4);
    x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k, 0x00);
    x1 = _mm_xor_si128(x1, t);
    /* Barrett reduction to 32 bits */
    k = _mm_loadu_si128((const __m128i *)(const void *)k_barrett);
    t = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, mask32), k, 0x00);
    x1 = _mm_xor_si128(x1, t);
    return (uint32_t)_mm_extract_epi32(x1, 1);
}

/* The CRC register (not inverted) after len bytes; len >= 64. Compiled
 * twice: for SSE4.1 (crc_clmul) and with the AVX encoding (crc_clmul_avx), whose three-operand
 * forms drop the register copies before each multiplication (a third fewer instructions per 64
 * bytes). */
__attribute__((target("pclmul,sse4.1"))) static inline __attribute__((always_inline)) uint32_t
crc_clmul_body(uint32_t reg, const uint8_t *p, size_t len) {
    __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 0));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
    __m128i x4 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)reg));
    return crc_clmul_tail(x1, x2, x3, x4, p + 64, len - 64);
}

__attribute__((target("pclmul,sse4.1"))) static uint32_t crc_clmul(uint32_t reg, const uint8_t *p,
                                                                   size_t len) {
    return crc_clmul_body(reg, p, len);
}

__attribute__((target("pclmul,sse4.1,avx"))) static uint32_t
crc_clmul_avx(uint32_t reg, const uint8_t *p, size_t len) {
    return crc_clmul_body(reg, p, len);
}

/* One fold of the two 128-bit lanes of x, each into the lane 128 bytes on. */
__attribute__((target("pclmul,sse4.1,avx,avx2,vpclmulqdq"))) static inline __m256i
fold2(__m256i x, __m256i k, __m256i next) {
    __m256i lo = _mm256_clmulepi64_epi128(x, k, 0x00);
    __m256i hi = _mm256_clmulepi64_epi128(x, k, 0x11);
    return _mm256_xor_si256(_mm256_xor_si256(hi, lo), next);
}

/* The 128-byte steps of crc_vpclmul from four 256-bit accumulators y1..y4 (the bytes before p
 * folded into them, the last 128 of those just loaded), then crc_clmul_tail; any len. */
__attribute__((target("pclmul,sse4.1,avx,avx2,vpclmulqdq"))) static inline
    __attribute__((always_inline)) uint32_t
    crc_vpclmul_steps(__m256i y1, __m256i y2, __m256i y3, __m256i y4, const uint8_t *p,
                      size_t len) {
    __m256i k = _mm256_loadu_si256((const __m256i *)(const void *)k_fold8);
    while (len >= 128) {
        y1 = fold2(y1, k, _mm256_loadu_si256((const __m256i *)(const void *)(p + 0)));
        y2 = fold2(y2, k, _mm256_loadu_si256((const __m256i *)(const void *)(p + 32)));
        y3 = fold2(y3, k, _mm256_loadu_si256((const __m256i *)(const void *)(p + 64)));
        y4 = fold2(y4, k, _mm256_loadu_si256((const __m256i *)(const void *)(p + 96)));
        p += 128;
        len -= 128;
    }
    /* the first 64 of the 128 bytes folded into the last 64: four 128-bit accumulators */
    __m128i k4 = _mm_loadu_si128((const __m128i *)(const void *)k_fold4);
    __m128i x1 = fold(_mm256_castsi256_si128(y1), k4, _mm256_castsi256_si128(y3));
    __m128i x2 = fold(_mm256_extracti128_si256(y1, 1), k4, _mm256_extracti128_si256(y3, 1));
    __m128i x3 = fold(_mm256_castsi256_si128(y2), k4, _mm256_castsi256_si128(y4));
    __m128i x4 = fold(_mm256_extracti128_si256(y2, 1), k4, _mm256_extracti128_si256(y4, 1));
    return crc_clmul_tail(x1, x2, x3, x4, p, len);
}

/* crc_clmul_body with 256-bit carry-less multiplication (VPCLMULQDQ): 128 bytes per step in
 * four 256-bit accumulators, which then fold into the four 128-bit ones of crc_clmul_tail;
 * len >= 128. Half the instructions per byte of crc_clmul_avx. */
__attribute__((target("pclmul,sse4.1,avx,avx2,vpclmulqdq"))) static uint32_t
crc_vpclmul(uint32_t reg, const uint8_t *p, size_t len) {
    __m256i y1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 0));
    __m256i y2 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
    __m256i y3 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 64));
    __m256i y4 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 96));
    y1 = _mm256_xor_si256(y1, _mm256_zextsi128_si256(_mm_cvtsi32_si128((int)reg)));
    return crc_vpclmul_steps(y1, y2, y3, y4, p + 128, len - 128);
}

/* One fold of the four 128-bit lanes of x, each into the lane 256 bytes on (k) or 128 (k8). */
__attribute__((target("pclmul,sse4.1,avx,avx2,vpclmulqdq,avx512f,avx512vl"))) static inline __m512i
fold4(__m512i x, __m512i k, __m512i next) {
    __m512i lo = _mm512_clmulepi64_epi128(x, k, 0x00);
    __m512i hi = _mm512_clmulepi64_epi128(x, k, 0x11);
    return _mm512_ternarylogic_epi64(hi, lo, next, 0x96); /* hi ^ lo ^ next */
}

/* crc_vpclmul with 512-bit carry-less multiplication: 256 bytes per step in four 512-bit
 * accumulators (about twice crc_vpclmul's bytes per second on AMD Zen 4), which then fold
 * into crc_vpclmul's four 256-bit ones; len >= 256. */
__attribute__((target("pclmul,sse4.1,avx,avx2,vpclmulqdq,avx512f,avx512vl"))) static uint32_t
crc_vpclmul512(uint32_t reg, const uint8_t *p, size_t len) {
    __m512i z1 = _mm512_loadu_si512((const void *)(p + 0));
    __m512i z2 = _mm512_loadu_si512((const void *)(p + 64));
    __m512i z3 = _mm512_loadu_si512((const void *)(p + 128));
    __m512i z4 = _mm512_loadu_si512((const void *)(p + 192));
    z1 = _mm512_xor_si512(z1, _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)reg)));
    __m512i k = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)k_fold16));
    p += 256;
    len -= 256;
    while (len >= 256) {
        z1 = fold4(z1, k, _mm512_loadu_si512((const void *)(p + 0)));
        z2 = fold4(z2, k, _mm512_loadu_si512((const void *)(p + 64)));
        z3 = fold4(z3, k, _mm512_loadu_si512((const void *)(p + 128)));
        z4 = fold4(z4, k, _mm512_loadu_si512((const void *)(p + 192)));
        p += 256;
        len -= 256;
    }
    /* the first 128 of the 256 bytes folded into the last 128 */
    __m512i k8 = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)k_fold8));
    z1 = fold4(z1, k8, z3);
    z2 = fold4(z2, k8, z4);
    return crc_vpclmul_steps(_mm512_castsi512_si256(z1), _mm512_extracti64x4_epi64(z1, 1),
                             _mm512_castsi512_si256(z2), _mm512_extracti64x4_epi64(z2, 1), p, len);
}

/* The best path the CPU has: -1 not asked yet; set once, the same answer on every thread. */
static int cpu_path = -1;
static int path_limit = RC_CRC_PATH_VPCLMUL512;

static int crc_path(void) {
    if (cpu_path < 0) {
        __builtin_cpu_init();
        bool clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
        bool avx = clmul && __builtin_cpu_supports("avx");
        bool vpclmul =
            avx && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("vpclmulqdq");
        cpu_path =
            !clmul ? RC_CRC_PATH_ZLIB
            : vpclmul && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
                ? RC_CRC_PATH_VPCLMUL512
            : vpclmul ? RC_CRC_PATH_VPCLMUL
            : avx     ? RC_CRC_PATH_AVX
                      : RC_CRC_PATH_CLMUL;
    }
    return cpu_path < path_limit ? cpu_path : path_limit;
}
#else
static int crc_path(void) {
    return RC_CRC_PATH_ZLIB;
}
#endif

int rc_binlog_crc_path(int limit) {
#ifdef RC_CRC_CLMUL
    path_limit = limit;
#else
    (void)limit;
#endif
    return crc_path();
}

uint32_t rc_binlog_crc32_update(uint32_t crc, const uint8_t *data, size_t len) {
#ifdef RC_CRC_CLMUL
    if (len >= 64) {
        int path = crc_path();
        if (path == RC_CRC_PATH_VPCLMUL512 && len >= 512) {
            return ~crc_vpclmul512(~crc, data, len);
        }
        if (path >= RC_CRC_PATH_VPCLMUL && len >= 128) {
            return ~crc_vpclmul(~crc, data, len);
        }
        if (path >= RC_CRC_PATH_AVX) {
            return ~crc_clmul_avx(~crc, data, len);
        }
        if (path != RC_CRC_PATH_ZLIB) {
            return ~crc_clmul(~crc, data, len);
        }
    }
#endif
    return crc_zlib(crc, data, len);
}

uint32_t rc_binlog_crc32(const uint8_t *data, size_t len) {
    return rc_binlog_crc32_update(0, data, len);
}
