#include <cblas.h>
// openblas_set_num_threads is declared in cblas.h for OpenBLAS; pinning threads keeps reductions in one order.
