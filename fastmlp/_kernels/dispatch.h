/* Runtime dispatch for the loops that C writes (optimizers.h, row_forward.h):
 * target_clones builds a function for AVX-512, AVX2 and the baseline, and the loader
 * picks the widest the CPU has. The default build stays free of CPU-specific flags, so
 * the wheel runs everywhere. */
#ifndef FASTMLP_DISPATCH_H
#define FASTMLP_DISPATCH_H

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define FASTMLP_DISPATCH __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FASTMLP_DISPATCH
#endif

#endif
