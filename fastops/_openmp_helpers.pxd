cdef extern from "src/fo_openmp.h" nogil:
    bint FO_OPENMP_ENABLED
    int omp_get_max_threads()
    int omp_get_thread_num()


cdef int default_n_threads() except -1
cdef void note_threads(int n) noexcept nogil
