// OpenBLAS's CBLAS interface (also declares openblas_set_num_threads / openblas_get_num_threads).
#include <cblas.h>
// glibc's allocator tuning (mallopt), used once at start-up next to the BLAS thread setup.
#include <malloc.h>
