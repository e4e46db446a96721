/*
 * pack_t_mr of instances with the AVX-512 variant's shape (64-byte vectors:
 * 16 float lanes, 8 double lanes; fo_gemm_avx512_shape.inc) built with AVX2
 * code generation, so that they run on any x86-64 CPU with AVX2: gcc lowers
 * their vectors to pairs of 256-bit ones.
 * Against a scalar reference, for 1 to 6 rows and depths 1 to 70, every
 * element of the panel must be right and nothing past its end written (the
 * float instance's stores spill 10 lanes past a depth step's 6).  The AVX2
 * instances are checked the same way.  Exit status 0: all passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include "fo_gemm.h"

#define FO_ISA wide
#define FO_TARGET __attribute__((target("avx2,fma")))
#include "fo_gemm_avx512_shape.inc"
#include "fo_gemm_isa.inc"

#define GUARD 64

#define CHECK(T, K)                                                                       \
    {                                                                                   \
    const int MR = (K).mr;                                                              \
    for (int rows = 1; rows <= MR; ++rows)                                              \
        for (int depth = 1; depth <= 70; ++depth) {                                     \
            const int64_t s_row = depth + 3;                                            \
            T *src = malloc(sizeof(T) * MR * s_row), *dst = malloc(sizeof(T) * (MR * depth + GUARD)); \
            for (int64_t i = 0; i < MR * s_row; ++i)                                    \
                src[i] = (T)(i + 1);                                                    \
            for (int64_t i = 0; i < MR * depth + GUARD; ++i)                            \
                dst[i] = -7;                                                            \
            (K).pack_t_mr(rows, depth, src, s_row, dst);                                \
            for (int p = 0; p < depth; ++p)                                             \
                for (int r = 0; r < MR; ++r) {                                          \
                    const T want = r < rows ? src[r * s_row + p] : 0;                   \
                    if (dst[p * MR + r] != want) {                                      \
                        printf("%s rows %d depth %d: [%d][%d] %g, want %g\n", #K, rows, depth, p, r, \
                               (double)dst[p * MR + r], (double)want);                  \
                        ++bad;                                                          \
                    }                                                                   \
                }                                                                       \
            for (int64_t i = MR * depth; i < MR * depth + GUARD; ++i)                   \
                if (dst[i] != -7) {                                                     \
                    printf("%s rows %d depth %d: wrote past the panel\n", #K, rows, depth); \
                    ++bad;                                                              \
                    break;                                                              \
                }                                                                       \
            free(src);                                                                  \
            free(dst);                                                                  \
        }                                                                               \
    }

int main(void)
{
    int bad = 0;
    CHECK(float, fo_s_wide_kernel)
    CHECK(double, fo_d_wide_kernel)
    CHECK(float, fo_s_avx2_kernel)
    CHECK(double, fo_d_avx2_kernel)
    printf("%d wrong\n", bad);
    return bad != 0;
}
