/* OpenMP entry points that compile to serial no-ops without OpenMP. */
#ifndef FO_OPENMP_H
#define FO_OPENMP_H
#ifdef _OPENMP
#include <omp.h>
#define FO_OPENMP_ENABLED 1
#else
#define FO_OPENMP_ENABLED 0
static int omp_get_max_threads(void) { return 1; }
static int omp_get_thread_num(void) { return 0; }
#endif
#endif
