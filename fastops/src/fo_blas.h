/*
 * Row-major GEMM through the CBLAS that NumPy itself loaded (bound at import
 * by fastops/_blas_loader.py from function addresses): no BLAS is linked at
 * build time, so fastops adds no dependency and runs the same BLAS as NumPy.
 * Both LP64 and ILP64 (NumPy >= 2 wheels: scipy_openblas64_) interfaces.
 */
#ifndef FO_BLAS_H
#define FO_BLAS_H
#include <stdint.h>

enum { FO_CBLAS_ROW_MAJOR = 101, FO_CBLAS_NO_TRANS = 111, FO_CBLAS_TRANS = 112 };

static void *fo_blas_gemm_s_ptr = 0, *fo_blas_gemm_d_ptr = 0;
static int fo_blas_ilp64 = 0;
static int (*fo_blas_threads_local)(int) = 0;   /* openblas_set_num_threads_local */

/* Threads the BLAS may use in the calling thread; returns the previous count or -1. */
static int fo_blas_set_threads(int n) { return fo_blas_threads_local ? fo_blas_threads_local(n) : -1; }

#define FO_DEFINE_BLAS_GEMM(T, SUF)                                                       \
typedef void (*fo_gemm64_##SUF##_fn)(int, int, int, int64_t, int64_t, int64_t, T,       \
        const T *, int64_t, const T *, int64_t, T, T *, int64_t);                         \
typedef void (*fo_gemm32_##SUF##_fn)(int, int, int, int, int, int, T,                   \
        const T *, int, const T *, int, T, T *, int);                                     \
/* C (rows x cols, row stride ldc) = op(X) @ op(Y), row-major CBLAS conventions. */       \
static void fo_blas_gemm_##SUF(int trans_x, int trans_y, int64_t rows, int64_t cols,     \
        int64_t inner, const T *x, int64_t ldx, const T *y, int64_t ldy,                  \
        T *c, int64_t ldc)                                                                \
{                                                                                         \
    const int tx = trans_x ? FO_CBLAS_TRANS : FO_CBLAS_NO_TRANS;                          \
    const int ty = trans_y ? FO_CBLAS_TRANS : FO_CBLAS_NO_TRANS;                          \
    if (fo_blas_ilp64)                                                                    \
        ((fo_gemm64_##SUF##_fn)fo_blas_gemm_##SUF##_ptr)(FO_CBLAS_ROW_MAJOR, tx, ty,      \
            rows, cols, inner, (T)1, x, ldx, y, ldy, (T)0, c, ldc);                       \
    else                                                                                  \
        ((fo_gemm32_##SUF##_fn)fo_blas_gemm_##SUF##_ptr)(FO_CBLAS_ROW_MAJOR, tx, ty,      \
            (int)rows, (int)cols, (int)inner, (T)1, x, (int)ldx, y, (int)ldy, (T)0,       \
            c, (int)ldc);                                                                 \
}
FO_DEFINE_BLAS_GEMM(float, s)
FO_DEFINE_BLAS_GEMM(double, d)
#undef FO_DEFINE_BLAS_GEMM

#endif /* FO_BLAS_H */
