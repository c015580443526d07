// The BLAS shim: the GEMM of the OpenBLAS that the scipy-openblas32 wheel ships (DEEPLINEAR_BLAS
// builds; see CMakeLists.txt). Its symbols carry a "scipy_" prefix, so it never clashes with
// another BLAS in the process (numpy's own OpenBLAS included).
#pragma once

namespace deeplinear::blas {

// Whether this build has the BLAS.
bool available();

// c = alpha·op(a)·op(b) + beta·c for n×n row-major matrices, on `threads` BLAS threads (the BLAS
// keeps one process-wide count: it is set before a call that needs another one; a concurrent
// call with another count changes how fast this one runs, never its result, since OpenBLAS
// shares out blocks of c, never the inner sum). Only defined where available().
void gemm(const double* a, bool trans_a, const double* b, bool trans_b, double* c, int n, double alpha, double beta,
          int threads);
void gemm(const float* a, bool trans_a, const float* b, bool trans_b, float* c, int n, float alpha, float beta,
          int threads);

}  // namespace deeplinear::blas
