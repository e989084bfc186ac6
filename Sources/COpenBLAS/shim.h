#include <cblas.h>
// openblas_set_num_threads is declared in cblas.h for OpenBLAS; pinning threads keeps reductions in one order.

// LAPACK routines that OpenBLAS exports (no lapack.h is installed, so they are declared here). Fortran
// passes every argument by reference and appends a hidden `size_t` length for each character argument.
// Matrices are column-major; `int` is OpenBLAS's 32-bit Fortran integer (the non-`64` library).

/// Cholesky factorisation of a symmetric positive definite matrix (A = Uᵀ·U or L·Lᵀ).
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_length);
/// The inverse of a symmetric positive definite matrix from its Cholesky factor (dtrtri_ then dlauum_).
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_length);
/// The inverse of a triangular matrix, in place.
void dtrtri_(
    const char *uplo, const char *diag, const int *n, double *a, const int *lda, int *info, size_t uplo_length,
    size_t diag_length);
/// U·Uᵀ or Lᵀ·L of a triangular matrix, in place (the second half of dpotri_).
void dlauum_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_length);

/// Ends OpenBLAS's thread pool (what OpenBLAS itself does before a fork); the next threaded call starts
/// it again. Exported by the pthread and OpenMP builds of OpenBLAS, not declared in cblas.h.
int blas_thread_shutdown_(void);
