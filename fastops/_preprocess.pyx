"""Kernel for fused image preprocessing (see src/fo_preprocess.h).

fastops/preprocess.py validates the images and parameters and computes each
image's plan; this module turns them into C structs and runs the rows of
every image in parallel, without the GIL.
"""
cimport numpy as cnp
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint8_t
from libc.stdlib cimport free, malloc

from fastops._openmp_helpers cimport note_threads, omp_get_thread_num

cnp.import_array()

cdef extern from "stdlib.h" nogil:
    void *aligned_alloc(size_t alignment, size_t size)

cdef extern from "src/fo_preprocess.h" nogil:
    ctypedef struct fo_image:
        const uint8_t *data
        int64_t h, w, s_row, s_col, s_chan
        int channels
    ctypedef struct fo_pp_plan:
        int64_t resized_h, resized_w, top, left, out_h, out_w
        int antialias, nchw, half
        int source_channel[3]
        float scale[3]
        float bias[3]
    int64_t fo_pp_scratch_bytes(const fo_image *im, const fo_pp_plan *p)
    void fo_pp_rows(const fo_image *im, const fo_pp_plan *p, int64_t y_begin, int64_t y_end,
                    void *out, void *scratch)


def preprocess_into(list images, cnp.ndarray plans, cnp.ndarray out, bint antialias,
                    bint nchw, tuple source_channel, tuple scale, tuple bias,
                    int num_threads):
    """Fill `out` (N, 3, h, w) or (N, h, w, 3), float32 or float16, C-contiguous.

    images: N uint8 arrays (H, W) or (H, W, C), C in 1, 3, 4, any strides.
    plans: int64 (N, 4) C-contiguous: resized height, resized width, crop
    top, crop left of each image.  The rest applies to all images.
    """
    cdef Py_ssize_t n = len(images), i
    cdef int c
    cdef int64_t[:, ::1] plan_rows = plans
    cdef cnp.ndarray image
    cdef int64_t out_h = cnp.PyArray_DIMS(out)[2 if nchw else 1]
    cdef int64_t out_w = cnp.PyArray_DIMS(out)[3 if nchw else 2]
    cdef int64_t image_bytes = 3 * out_h * out_w * cnp.PyArray_ITEMSIZE(out)
    cdef int64_t scratch_stride = 0, chunks, rows_per_chunk, n_tasks, t, first_row
    cdef int nt
    cdef char *base = <char *>cnp.PyArray_DATA(out)
    cdef char *scratch = NULL
    cdef fo_image *ims = <fo_image *>malloc(n * sizeof(fo_image))
    cdef fo_pp_plan *pls = <fo_pp_plan *>malloc(n * sizeof(fo_pp_plan))
    try:
        if ims == NULL or pls == NULL:
            raise MemoryError("fastops.preprocess: cannot allocate image descriptors")
        for i in range(n):
            image = images[i]
            ims[i].data = <const uint8_t *>cnp.PyArray_DATA(image)
            ims[i].h = cnp.PyArray_DIMS(image)[0]
            ims[i].w = cnp.PyArray_DIMS(image)[1]
            ims[i].s_row = cnp.PyArray_STRIDES(image)[0]
            ims[i].s_col = cnp.PyArray_STRIDES(image)[1]
            ims[i].channels = cnp.PyArray_DIMS(image)[2] if cnp.PyArray_NDIM(image) == 3 else 1
            ims[i].s_chan = cnp.PyArray_STRIDES(image)[2] if cnp.PyArray_NDIM(image) == 3 else 0
            pls[i].resized_h, pls[i].resized_w = plan_rows[i, 0], plan_rows[i, 1]
            pls[i].top, pls[i].left = plan_rows[i, 2], plan_rows[i, 3]
            pls[i].out_h, pls[i].out_w = out_h, out_w
            pls[i].antialias, pls[i].nchw = antialias, nchw
            pls[i].half = cnp.PyArray_TYPE(out) == cnp.NPY_FLOAT16
            for c in range(3):
                pls[i].source_channel[c] = source_channel[c]
                pls[i].scale[c] = scale[c]
                pls[i].bias[c] = bias[c]
            scratch_stride = max(scratch_stride, fo_pp_scratch_bytes(&ims[i], &pls[i]))
        # Tasks: whole images when there are enough of them, else row chunks.
        nt = max(1, min(num_threads, n * out_h))
        chunks = max(1, (nt + n - 1) // n)
        rows_per_chunk = (out_h + chunks - 1) // chunks
        n_tasks = n * chunks
        scratch_stride = (scratch_stride + 63) // 64 * 64
        scratch = <char *>aligned_alloc(64, scratch_stride * nt)
        if scratch == NULL:
            raise MemoryError("fastops.preprocess: cannot allocate scratch rows")
        note_threads(nt)
        with nogil:
            for t in prange(n_tasks, schedule="dynamic", num_threads=nt):
                first_row = (t % chunks) * rows_per_chunk
                fo_pp_rows(&ims[t // chunks], &pls[t // chunks], min(first_row, out_h),
                           min(first_row + rows_per_chunk, out_h),
                           base + (t // chunks) * image_bytes,
                           scratch + omp_get_thread_num() * scratch_stride)
    finally:
        free(ims)
        free(pls)
        free(scratch)
    return out
