/*
 * common.h -- shared by every family file: sizes, the blocked deterministic
 * summation, and vectorisable exp/log.
 *
 * Rules for everything here:
 *   - every size and index is int64_t;
 *   - nothing depends on the number of threads: work is cut into blocks of
 *     PL_BLOCK elements, each block is summed on its own, and the block
 *     partials are combined pairwise in index order, so the value is
 *     bit-identical for 1 or N threads;
 *   - no -ffast-math: the math below is written so that GCC vectorises it
 *     under plain -O3 (selects instead of branches, bit casts via memcpy).
 */
#ifndef PL_COMMON_H
#define PL_COMMON_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "pool.h"

#define PL_BLOCK 4096          /* elements per deterministic block */
#define PL_LANES 8             /* independent accumulators per block */
#ifndef PL_PAR_MIN              /* -DPL_PAR_MIN=n: bench/crossover.py builds a variant */
#define PL_PAR_MIN (1 << 17)   /* below this a kernel stays on one thread */
#endif

/* Compiler specifics live behind these macros, so that any C11 compiler (GCC,
 * Clang, MSVC) builds the kernels. */
#if defined(_MSC_VER) && !defined(__clang__)
#define PL_INLINE static __forceinline
#define PL_PRAGMA(x) __pragma(x)
#else
#define PL_INLINE static inline __attribute__((always_inline))
#define PL_PRAGMA(x) _Pragma(#x)
#endif

/* PL_PREFETCH(p): ask for the cache line at p ahead of its use (a hint; no
 * effect on results, nothing where the compiler has no builtin). */
#if defined(__GNUC__) || defined(__clang__)
#define PL_PREFETCH(p) __builtin_prefetch(p)
#else
#define PL_PREFETCH(p) ((void)0)
#endif

/* Per-CPU builds: csrc/build.py compiles every kernel unit twice, once for
 * x86-64-v3 (AVX2/FMA: -march=x86-64-v3) and once for the baseline, with each
 * exported name renamed by a generated header (pl_mse_f32 -> pl_mse_f32__v3,
 * pl_mse_f32__base), and the cffi module defines pl_mse_f32 itself as a call
 * to the body the CPU can run (chosen once at load time: isa.h).  -march=native
 * is never used, so the wheel runs on any x86-64.  With -DPL_MULTI_ISA unset
 * (not x86-64, MSVC, a sanitizer build, -DPL_NO_CLONES) each unit is compiled
 * once, portably (csrc/build.py records why, pl.backends(verbose=True) shows it).
 * Code here needs nothing for it: a unit is plain C, compiled with other flags. */

/* ------------------------------------------------------------------ */
/* Deterministic summation                                             */
/* ------------------------------------------------------------------ */

/* Pairwise sum of a short array of doubles, always split at the same place. */
static inline double pl_pairwise(const double *x, int64_t n)
{
    if (n <= 8) {
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) s += x[i];
        return s;
    }
    int64_t h = n / 2;
    return pl_pairwise(x, h) + pl_pairwise(x + h, n - h);
}

static inline double pl_lanes_sum(const double *acc)
{
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static inline int64_t pl_nblocks(int64_t n) { return (n + PL_BLOCK - 1) / PL_BLOCK; }

/* The threads a kernel uses for n elements of work: nthreads from
 * PL_PAR_MIN on, 1 below it or in a build without threads. */
static inline int pl_threads(int64_t n, int nthreads)
{
#ifdef _OPENMP
    return nthreads > 1 && n >= PL_PAR_MIN ? nthreads : 1;
#else
    (void)n; (void)nthreads;
    return 1;
#endif
}

/* ------------------------------------------------------------------ */
/* Bit casts                                                           */
/* ------------------------------------------------------------------ */
PL_INLINE int32_t pl_f2i(float x) { int32_t i; memcpy(&i, &x, 4); return i; }
PL_INLINE float pl_i2f(int32_t i) { float x; memcpy(&x, &i, 4); return x; }
PL_INLINE int64_t pl_d2i(double x) { int64_t i; memcpy(&i, &x, 8); return i; }
PL_INLINE double pl_i2d(int64_t i) { double x; memcpy(&x, &i, 8); return x; }

/* ------------------------------------------------------------------ */
/* Vectorisable exp                                                    */
/* ------------------------------------------------------------------ */
/*
 * exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 (Cody-Waite,
 * two-constant split), exp(r) by a polynomial on |r| <= ln2/2.  2^n is built
 * from exponent bits in two halves so that results in the subnormal range are
 * still produced (no flush to zero).  Rounding to nearest uses the
 * 1.5*2^mantissa trick, so no rint() call blocks vectorisation.
 *
 * float:  Cephes expf polynomial (degree 6); max error measured against the
 *         double-precision libm over [-104, 89]: 1 ulp (tests/test_math.py).
 * double: degree-13 Taylor polynomial (truncation < 1e-17 relative); max error
 *         against long-double expl: 2 ulp.
 * Overflow gives +inf, underflow 0, NaN propagates.
 */
/* 2^n exp(r) for xc already clamped to the finite range. */
PL_INLINE float pl_expf_core(float xc)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    float z = xc * 1.44269504088896341f + magic;
    int32_t n = pl_f2i(z) - pl_f2i(magic);
    float nf = z - magic;
    float r = xc - nf * 0.693359375f;
    r = r - nf * -2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t n1 = n >> 1;
    int32_t n2 = n - n1;
    return p * pl_i2f((n1 + 127) << 23) * pl_i2f((n2 + 127) << 23);
}

PL_INLINE float pl_expf(float x)
{
    float xc = x > 88.8f ? 88.8f : x;
    xc = xc < -104.0f ? -104.0f : xc;
    float y = pl_expf_core(xc);
    y = x > 88.8f ? INFINITY : y;
    y = x < -104.0f ? 0.0f : y;
    return x != x ? x : y;
}

/* exp of x <= 0 (a softmax's x - max): pl_expf's bits there without the
 * overflow side, two selects fewer per element.  NaN passes. */
PL_INLINE float pl_expf_nonpos(float x)
{
    float y = pl_expf_core(x < -104.0f ? -104.0f : x);
    y = x < -104.0f ? 0.0f : y;
    return x != x ? x : y;
}

/* 2^n exp(r) for xc already clamped to the finite range. */
PL_INLINE double pl_exp_core(double xc)
{
    const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
    double z = xc * 1.4426950408889634074 + magic;
    int64_t n = pl_d2i(z) - pl_d2i(magic);
    double nf = z - magic;
    double r = xc - nf * 6.93147180369123816490e-01;
    r = r - nf * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0;          /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * (r * r) + r + 1.0;
    int64_t n1 = n >> 1;
    int64_t n2 = n - n1;
    return p * pl_i2d((n1 + 1023) << 52) * pl_i2d((n2 + 1023) << 52);
}

PL_INLINE double pl_exp(double x)
{
    double xc = x > 709.9 ? 709.9 : x;
    xc = xc < -745.2 ? -745.2 : xc;
    double y = pl_exp_core(xc);
    y = x > 709.9 ? INFINITY : y;
    y = x < -745.2 ? 0.0 : y;
    return x != x ? x : y;
}

/* pl_exp for x <= 0, as pl_expf_nonpos. */
PL_INLINE double pl_exp_nonpos(double x)
{
    double y = pl_exp_core(x < -745.2 ? -745.2 : x);
    y = x < -745.2 ? 0.0 : y;
    return x != x ? x : y;
}

/* ------------------------------------------------------------------ */
/* Vectorisable log                                                    */
/* ------------------------------------------------------------------ */
/*
 * log(x) = e ln 2 + log(m), m in [sqrt(1/2), sqrt(2)).  Subnormal x is first
 * scaled by 2^25 (float) / 2^54 (double).  x < 0 or NaN gives NaN, 0 gives
 * -inf, +inf gives +inf.
 * float:  Cephes logf polynomial; max error 1 ulp (tests/test_math.py).
 * double: fdlibm's s = f/(2+f) series (Lg1..Lg7); max error 1 ulp.
 */
/* The Cephes logf core for x = 2^esub * xs, xs a positive normal float. */
PL_INLINE float pl_logf_core(float xs, int32_t esub)
{
    int32_t ix = pl_f2i(xs);
    /* shift so that the mantissa lands in [sqrt(1/2), sqrt(2)) */
    ix += 0x3f800000 - 0x3f3504f3;
    int32_t e = (ix >> 23) - 127 - esub;
    float m = pl_i2f((ix & 0x007fffff) + 0x3f3504f3);
    float f = m - 1.0f;
    float z = f * f;
    float y = 7.0376836292E-2f;
    y = y * f - 1.1514610310E-1f;
    y = y * f + 1.1676998740E-1f;
    y = y * f - 1.2420140846E-1f;
    y = y * f + 1.4249322787E-1f;
    y = y * f - 1.6668057665E-1f;
    y = y * f + 2.0000714765E-1f;
    y = y * f - 2.4999993993E-1f;
    y = y * f + 3.3333331174E-1f;
    y = y * f * z;
    float ef = (float)e;
    y += -2.12194440e-4f * ef;
    y += -0.5f * z;
    float r = f + y;
    r += 0.693359375f * ef;
    return r;
}

PL_INLINE float pl_logf(float x)
{
    int sub = x < 1.17549435e-38f;
    float xs = sub ? x * 33554432.0f : x; /* 2^25 */
    float r = pl_logf_core(xs, sub ? 25 : 0);
    r = x == INFINITY ? x : r;
    r = x == 0.0f ? -INFINITY : r;
    r = x < 0.0f ? NAN : r;
    return x != x ? x : r;
}

/* log(x) for a finite normal x > 0 (no special cases: callers that know their
 * argument lies in, say, [1, 2] skip four selects per element). */
PL_INLINE float pl_logf_norm(float x) { return pl_logf_core(x, 0); }

PL_INLINE double pl_log_core(double xs, int64_t esub)
{
    int64_t ix = pl_d2i(xs);
    ix += 0x3ff0000000000000LL - 0x3fe6a09e667f3bcdLL;
    int64_t e = (ix >> 52) - 1023 - esub;
    double m = pl_i2d((ix & 0x000fffffffffffffLL) + 0x3fe6a09e667f3bcdLL);
    double f = m - 1.0;
    double hfsq = 0.5 * f * f;
    double s = f / (2.0 + f);
    double z = s * s;
    double w = z * z;
    double t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
    double t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
    double R = t2 + t1;
    /* e as a double without an int64 -> double conversion, which AVX2 lacks
     * (GCC scalarised the whole loop): 1.5*2^52 + e is exact for |e| < 2^51. */
    double ed = pl_i2d(e + 0x4338000000000000LL) - 6755399441055744.0;
    return ed * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + R) + ed * 1.90821492927058770002e-10)) - f);
}

PL_INLINE double pl_log(double x)
{
    int sub = x < 2.2250738585072014e-308;
    double xs = sub ? x * 18014398509481984.0 : x; /* 2^54 */
    double r = pl_log_core(xs, sub ? 54 : 0);
    r = x == INFINITY ? x : r;
    r = x == 0.0 ? -INFINITY : r;
    r = x < 0.0 ? NAN : r;
    return x != x ? x : r;
}

PL_INLINE double pl_log_norm(double x) { return pl_log_core(x, 0); }

/* log1p(u) for u >= 0 (the only case losses need: u = exp(-|x|) in (0, 1]).
 * The correction ((1+u)-1-u)/(1+u) recovers the bits lost forming 1+u
 * (Goldberg, "What every computer scientist should know...", thm. 4). */
PL_INLINE float pl_log1pf_pos(float u)
{
    float v = 1.0f + u;
    float c = (v - 1.0f) - u;
    float r = pl_logf(v) - c / v;
    r = u == INFINITY ? u : r; /* c = inf - inf is NaN there */
    return v == 1.0f ? u : r;
}

PL_INLINE double pl_log1p_pos(double u)
{
    double v = 1.0 + u;
    double c = (v - 1.0) - u;
    double r = pl_log(v) - c / v;
    r = u == INFINITY ? u : r; /* c = inf - inf is NaN there */
    return v == 1.0 ? u : r;
}

/* log1p(u) for u in [0, 1] (or NaN) given inv = 1/(1+u), which the caller
 * already has (sigmoid, tanh): 1+u lies in [1, 2], so the log needs no special
 * cases and the correction is a multiply.  NaN propagates through it. */
PL_INLINE float pl_log1pf_unit(float u, float inv)
{
    float v = 1.0f + u;
    float r = pl_logf_norm(v) - ((v - 1.0f) - u) * inv;
    return v == 1.0f ? u : r;
}

PL_INLINE double pl_log1p_unit(double u, double inv)
{
    double v = 1.0 + u;
    double r = pl_log_norm(v) - ((v - 1.0) - u) * inv;
    return v == 1.0 ? u : r;
}

/* ------------------------------------------------------------------ */
/* Type-generic names for the *_impl.h files                           */
/* ------------------------------------------------------------------ */
/* A family file defines PL_DOUBLE to 0 or 1 and includes its *_impl.h; the
 * impl uses T, PL_NAME(x) (adds _f32/_f64) and the PL_* math below. */
#define PL_CAT3_(a, b, c) a##b##c
#define PL_CAT3(a, b, c) PL_CAT3_(a, b, c)

#endif /* PL_COMMON_H */
