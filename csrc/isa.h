/* isa.h -- which per-CPU build of the kernels this CPU can run (csrc/common.h,
 * "Per-CPU builds").  Levels: 0 baseline x86-64, 1 x86-64-v3 (AVX2, FMA, BMI2),
 * 2 x86-64-v4 (AVX-512, only in a PYLOSS_AVX512=1 build: -DPL_ISA_V4).
 *
 * The features are those __builtin_cpu_supports knows in every GCC and Clang
 * this builds with (Clang 14 has no "x86-64-v3" level and no "movbe"), and
 * build.py compiles the v3/v4 bodies with -mno-movbe -mno-lzcnt -mno-f16c so
 * that they use nothing outside this list.  The AVX features are reported only
 * when the OS saves the wide registers (libgcc and compiler-rt check XGETBV). */
#ifndef PL_ISA_H
#define PL_ISA_H

#if defined(PL_MULTI_ISA)
static int pl_isa_best(void)
{
    __builtin_cpu_init();
    const int v3 = __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2")
                   && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi")
                   && __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt")
                   && __builtin_cpu_supports("sse4.2");
#ifdef PL_ISA_V4
    const int v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
                   && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq")
                   && __builtin_cpu_supports("avx512vl");
    if (v4) return 2;
#endif
    return v3 ? 1 : 0;
}
#else
static int pl_isa_best(void) { return 0; }
#endif

#endif
